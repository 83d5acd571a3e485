"""A control unit's position in its instruction stream, kept as explicit loop frames.

``expand()`` (dlpsim.asm.program) defines the dynamic stream; a StreamCursor yields
the same instructions from the same normalised() statements, but holds its position as
data: one frame per open loop, with the index of the next statement of the loop body
and the iteration it is in.
Fast-forward (dlpsim.sim.fastforward) reads that position to recognise a repeated
machine state and moves an iteration counter forward to skip the repeats, which a
generator's hidden locals would not allow.
"""

from __future__ import annotations

from collections.abc import Iterator

from dlpsim.asm.program import Repeat, Statement, normalised


class StreamCursor:
    """Iterates a core's dynamic instruction stream; ``frames`` is its position.

    Each frame is a list ``[body, next_index, iteration, count]``; the first frame is
    the whole stream (iteration 0 of 1). ``on_iteration``, if set, is called each time
    a loop goes round to a new iteration, so an observer can tell that one did.
    """

    def __init__(self, statements: tuple[Statement, ...]):
        body = _merged_nests(normalised(statements))
        self.frames: list[list] = [[body, 0, 0, 1]]
        self.depth = _depth(body)  # how deep its loops nest
        self.on_iteration = None

    def __iter__(self) -> Iterator:
        frames = self.frames
        while frames:
            frame = frames[-1]
            body = frame[0]
            index = frame[1]
            if index < len(body):
                statement = body[index]
                frame[1] = index + 1
                if type(statement) is Repeat:
                    frames.append([statement.body, 0, 0, statement.count])
                else:
                    yield statement
                continue
            # the end of a body: go round again, or leave the loop
            frame[2] += 1
            if frame[2] < frame[3]:
                frame[1] = 0
                if self.on_iteration is not None:
                    self.on_iteration()
            else:
                frames.pop()

    @property
    def finished(self) -> bool:
        return not self.frames

    def position(self) -> tuple:
        """Where the cursor is, loop counters left out: (body, next index) per frame."""
        return tuple((id(frame[0]), frame[1]) for frame in self.frames)

    def iterations(self) -> tuple[int, ...]:
        """The iteration each open frame is in, outermost first."""
        return tuple(frame[2] for frame in self.frames)

    def remaining_iterations(self, depth: int) -> int:
        """Iterations of the frame at ``depth`` after the one it is in."""
        frame = self.frames[depth]
        return frame[3] - 1 - frame[2]

    def skip_iterations(self, depth: int, iterations: int) -> None:
        """Move the frame at ``depth`` forward by whole iterations, keeping its place in the body."""
        frame = self.frames[depth]
        if not 0 <= iterations <= frame[3] - 1 - frame[2]:
            raise ValueError(f"cannot skip {iterations} iterations with {frame[3] - 1 - frame[2]} left")
        frame[2] += iterations


def _merged_nests(body: tuple) -> tuple:
    """The same stream with each loop whose body is one loop made one loop of the two counts'
    product (``loop a / loop b / X`` issues X a x b times): fast-forward then needs no
    observation at the levels merged, however deep a nest of small counts goes."""
    merged = []
    for statement in body:
        if type(statement) is Repeat:
            inner = _merged_nests(statement.body)
            if len(inner) == 1 and type(inner[0]) is Repeat:
                statement = Repeat(statement.count * inner[0].count, inner[0].body)
            else:
                statement = Repeat(statement.count, inner)
        merged.append(statement)
    return tuple(merged)


def _depth(body: tuple) -> int:
    return max((1 + _depth(statement.body) for statement in body if type(statement) is Repeat), default=0)
