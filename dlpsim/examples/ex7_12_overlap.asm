; Exercise 7.12 -- the layer of ex7_12.asm on DLP-M, DOUBLE-BUFFERED: input tiles, output tiles
; and weight blocks all move while the MAC arrays compute.
;
; Machine: dlp-m (4 cores: 256 FP32 MACs/cycle, NRAM 128 KB, WRAM 256 KB each; SharedRAM 2 MB;
;          DRAM 128 B/cycle for the chip; SharedRAM <-> each core 1000 B/cycle).
; Layer:   input 1024x256, weights 256x2048, output 1024x2048, all FP32; 536870912 MACs.
; Split:   core i owns output columns 512i .. 512i+511 (weights 512 KB per core); the memory
;          core fetches the 1 MB input into SharedRAM once, each core copies row tiles from it.
; Tiling per core: 4 weight blocks of 128 columns (256*128*4 = 128 KB) x 32 row tiles of 32
;          rows = 128 tiles, computed block by block. Tile: input 32*256*4 = 32 KB, output
;          32*128*4 = 16 KB, compute 32*256*128 = 1048576 MACs = 4096 cycles.
;   WRAM (256 KB)                          NRAM (128 KB)
;     W0 0x00000 .. 0x20000  blocks 0, 2      IN_A  0x00000 .. 0x08000  even tiles
;     W1 0x20000 .. 0x40000  blocks 1, 3      IN_B  0x08000 .. 0x10000  odd tiles
;                                             OUT_A 0x10000 .. 0x14000  even tiles
;                                             OUT_B 0x14000 .. 0x18000  odd tiles
;   (each block row-major 256x128; a 64 KB chunk is its first or last 128 rows)
; Layout (column block j = output columns 128j .. 128j+127; core i owns blocks 4i .. 4i+3, its
;   block b is j = 4i+b; tile t of a core = row tile r = t % 32 of its block b = t / 32):
;   DRAM  input   0x000000 .. 0x100000  row-major 1024x256
;         weights 0x100000 .. 0x300000  block-major: block j (256x128) at 0x100000 + 0x20000 * j
;         output  0x300000 .. 0xb00000  block-major: block j (1024x128) at 0x300000 + 0x80000 * j,
;                                       its row tile r (32 rows, 16 KB) at + 0x4000 * r
;   SharedRAM  input 0x000000 .. 0x100000, row tile r (32 rows, 32 KB) at 0x8000 * r
; Each core reads its own weights and writes its own output blocks, so each core has its own
; section with its own DRAM addresses; the four streams are otherwise identical. The loop
; bodies are two steps, an A tile and a B tile, as the buffers alternate; their index k moves
; the SharedRAM and DRAM operands by two tiles per iteration (a core's output tile t is at
; 0x4000 * t from its first block's start, so its stores are affine across blocks too). The
; input row tile wraps from 31 to 0 at each block's end, which no affine address does, so the
; last pair of blocks 0 .. 2 is written out after a loop of 14. The program computes the whole
; product (tests/test_programs_compute.py checks y = x @ W, W and y block-major as above).
; Schedule: step t = { copy input t+1 (move queue), store output t-1 (io), [weight chunk],
;          compute tile t, sync }. During the first two steps of blocks 0..2 the next weight
;          block is prefetched into the other WRAM buffer in two 64 KB chunks. The sync closing
;          each step is the hand-off: input t+1 is in its IN buffer, output t-1 has left its OUT
;          buffer, and the weight chunk is in the other WRAM buffer (which the previous block
;          had finished reading), ready for the next block.
;
; HAND ESTIMATE (contract rules). The four cores run identical streams in lockstep, so their
; DRAM transfers start together with equal sizes: a core's s bytes take 4*s/128 cycles.
;   fill: at cycle 0 the memory core's input (1048576 B) and the 4 cores' weight block 0
;         (131072 B each) start together: 5 transfers at 128/5 = 25.6 B/cycle each.
;         The weight blocks finish at 131072 / 25.6 = 5120; the input has 1048576 - 131072
;         = 917504 B left, alone: 917504 / 128 = 7168 -> 12288 (= all 1572864 B / 128).
;         barrier at 12288; copy tile 0 SharedRAM -> NRAM: ceil(32768 / 1000) = 33; sync
;                                                                    fill = 12288 + 33
;   128 steps, each max(compute 4096,
;                       io: store 4*16384/128 = 512 + weight chunk 4*65536/128 = 2048,
;                       move: copy 33) = 4096                         = 128 * 4096
;   drain: store output 127: 4*16384/128                              =  512
;   total 12288 + 33 + 128 * 4096 + 512 = 537121 cycles
;         (serial ex7_12: 616512; compute bound 524288; efficiency 97.6 %)
; Roofline bound: compute 524288; DRAM 11534336 / 128 = 90112 -> 524288.
; The fill is DRAM-bound: cores wait for the whole input to reach SharedRAM. Fetching the
; input in pieces (a barrier per piece) could shrink it towards weight block 0 plus tile 0,
; (4*131072 + 32768) / 128 = 4352 cycles, at the price of more barriers and unequal sharing.

.machine dlp-m

.core mem
move DRAM[0x000000] SharedRAM[0x000000] 1024*256*4  ; the whole input, once
barrier

.core 0                                 ; weight blocks 0 .. 3, output blocks 0 .. 3
; ---- fill --------------------
move DRAM[0x100000] WRAM[0x00000] 256*128*4             ; weight block 0 -> W0
barrier                                                 ; the input is in SharedRAM
move SharedRAM[0x000000] NRAM[0x00000] 32*256*4         ; tile 0 -> IN_A
sync

; ---- block 0 (W0), prefetching block 1 into W1 --------------------
; tile 0 (A): nothing to store yet
move SharedRAM[0x008000] NRAM[0x08000] 32*256*4         ; tile 1 -> IN_B   (move)
move DRAM[0x120000] WRAM[0x20000] 256*64*4              ; block 1, first half -> W1   (io)
compute MAC_32 32x256x128 NRAM[0x00000], WRAM[0x00000] -> NRAM[0x10000]   ; IN_A x W0 -> OUT_A
sync
; tile 1 (B)
move SharedRAM[0x010000] NRAM[0x00000] 32*256*4         ; tile 2 -> IN_A   (move)
move NRAM[0x10000] DRAM[0x300000] 32*128*4              ; output 0 <- OUT_A   (io)
move DRAM[0x130000] WRAM[0x30000] 256*64*4              ; block 1, second half -> W1   (io)
compute MAC_32 32x256x128 NRAM[0x08000], WRAM[0x00000] -> NRAM[0x14000]   ; IN_B x W0 -> OUT_B
sync
loop 14 as k                                            ; tiles 2 .. 29, two per iteration (k = 0: tiles 2, 3)
    move SharedRAM[0x018000 + 0x10000*k] NRAM[0x08000] 32*256*4 ; next tile -> IN_B   (move)
    move NRAM[0x14000] DRAM[0x304000 + 0x8000*k] 32*128*4 ; previous output <- OUT_B   (io)
    compute MAC_32 32x256x128 NRAM[0x00000], WRAM[0x00000] -> NRAM[0x10000]   ; IN_A x W0 -> OUT_A
    sync
    move SharedRAM[0x020000 + 0x10000*k] NRAM[0x00000] 32*256*4 ; next tile -> IN_A   (move)
    move NRAM[0x10000] DRAM[0x308000 + 0x8000*k] 32*128*4 ; previous output <- OUT_A   (io)
    compute MAC_32 32x256x128 NRAM[0x08000], WRAM[0x00000] -> NRAM[0x14000]   ; IN_B x W0 -> OUT_B
    sync
endloop
; tiles 30, 31: the last pair, whose next tile wraps to row tile 0
move SharedRAM[0x0f8000] NRAM[0x08000] 32*256*4     ; next tile -> IN_B   (move)
move NRAM[0x14000] DRAM[0x374000] 32*128*4          ; previous output <- OUT_B   (io)
compute MAC_32 32x256x128 NRAM[0x00000], WRAM[0x00000] -> NRAM[0x10000]   ; IN_A x W0 -> OUT_A
sync
move SharedRAM[0x000000] NRAM[0x00000] 32*256*4     ; row tile 0 of the next block -> IN_A   (move)
move NRAM[0x10000] DRAM[0x378000] 32*128*4          ; previous output <- OUT_A   (io)
compute MAC_32 32x256x128 NRAM[0x08000], WRAM[0x00000] -> NRAM[0x14000]   ; IN_B x W0 -> OUT_B
sync

; ---- block 1 (W1), prefetching block 2 into W0 --------------------
; tile 32 (A)
move SharedRAM[0x008000] NRAM[0x08000] 32*256*4         ; tile 33 -> IN_B   (move)
move NRAM[0x14000] DRAM[0x37c000] 32*128*4              ; output 31 <- OUT_B   (io)
move DRAM[0x140000] WRAM[0x00000] 256*64*4              ; block 2, first half -> W0   (io)
compute MAC_32 32x256x128 NRAM[0x00000], WRAM[0x20000] -> NRAM[0x10000]   ; IN_A x W1 -> OUT_A
sync
; tile 33 (B)
move SharedRAM[0x010000] NRAM[0x00000] 32*256*4         ; tile 34 -> IN_A   (move)
move NRAM[0x10000] DRAM[0x380000] 32*128*4              ; output 32 <- OUT_A   (io)
move DRAM[0x150000] WRAM[0x10000] 256*64*4              ; block 2, second half -> W0   (io)
compute MAC_32 32x256x128 NRAM[0x08000], WRAM[0x20000] -> NRAM[0x14000]   ; IN_B x W1 -> OUT_B
sync
loop 14 as k                                            ; tiles 34 .. 61, two per iteration (k = 0: tiles 34, 35)
    move SharedRAM[0x018000 + 0x10000*k] NRAM[0x08000] 32*256*4 ; next tile -> IN_B   (move)
    move NRAM[0x14000] DRAM[0x384000 + 0x8000*k] 32*128*4 ; previous output <- OUT_B   (io)
    compute MAC_32 32x256x128 NRAM[0x00000], WRAM[0x20000] -> NRAM[0x10000]   ; IN_A x W1 -> OUT_A
    sync
    move SharedRAM[0x020000 + 0x10000*k] NRAM[0x00000] 32*256*4 ; next tile -> IN_A   (move)
    move NRAM[0x10000] DRAM[0x388000 + 0x8000*k] 32*128*4 ; previous output <- OUT_A   (io)
    compute MAC_32 32x256x128 NRAM[0x08000], WRAM[0x20000] -> NRAM[0x14000]   ; IN_B x W1 -> OUT_B
    sync
endloop
; tiles 62, 63: the last pair, whose next tile wraps to row tile 0
move SharedRAM[0x0f8000] NRAM[0x08000] 32*256*4     ; next tile -> IN_B   (move)
move NRAM[0x14000] DRAM[0x3f4000] 32*128*4          ; previous output <- OUT_B   (io)
compute MAC_32 32x256x128 NRAM[0x00000], WRAM[0x20000] -> NRAM[0x10000]   ; IN_A x W1 -> OUT_A
sync
move SharedRAM[0x000000] NRAM[0x00000] 32*256*4     ; row tile 0 of the next block -> IN_A   (move)
move NRAM[0x10000] DRAM[0x3f8000] 32*128*4          ; previous output <- OUT_A   (io)
compute MAC_32 32x256x128 NRAM[0x08000], WRAM[0x20000] -> NRAM[0x14000]   ; IN_B x W1 -> OUT_B
sync

; ---- block 2 (W0), prefetching block 3 into W1 --------------------
; tile 64 (A)
move SharedRAM[0x008000] NRAM[0x08000] 32*256*4         ; tile 65 -> IN_B   (move)
move NRAM[0x14000] DRAM[0x3fc000] 32*128*4              ; output 63 <- OUT_B   (io)
move DRAM[0x160000] WRAM[0x20000] 256*64*4              ; block 3, first half -> W1   (io)
compute MAC_32 32x256x128 NRAM[0x00000], WRAM[0x00000] -> NRAM[0x10000]   ; IN_A x W0 -> OUT_A
sync
; tile 65 (B)
move SharedRAM[0x010000] NRAM[0x00000] 32*256*4         ; tile 66 -> IN_A   (move)
move NRAM[0x10000] DRAM[0x400000] 32*128*4              ; output 64 <- OUT_A   (io)
move DRAM[0x170000] WRAM[0x30000] 256*64*4              ; block 3, second half -> W1   (io)
compute MAC_32 32x256x128 NRAM[0x08000], WRAM[0x00000] -> NRAM[0x14000]   ; IN_B x W0 -> OUT_B
sync
loop 14 as k                                            ; tiles 66 .. 93, two per iteration (k = 0: tiles 66, 67)
    move SharedRAM[0x018000 + 0x10000*k] NRAM[0x08000] 32*256*4 ; next tile -> IN_B   (move)
    move NRAM[0x14000] DRAM[0x404000 + 0x8000*k] 32*128*4 ; previous output <- OUT_B   (io)
    compute MAC_32 32x256x128 NRAM[0x00000], WRAM[0x00000] -> NRAM[0x10000]   ; IN_A x W0 -> OUT_A
    sync
    move SharedRAM[0x020000 + 0x10000*k] NRAM[0x00000] 32*256*4 ; next tile -> IN_A   (move)
    move NRAM[0x10000] DRAM[0x408000 + 0x8000*k] 32*128*4 ; previous output <- OUT_A   (io)
    compute MAC_32 32x256x128 NRAM[0x08000], WRAM[0x00000] -> NRAM[0x14000]   ; IN_B x W0 -> OUT_B
    sync
endloop
; tiles 94, 95: the last pair, whose next tile wraps to row tile 0
move SharedRAM[0x0f8000] NRAM[0x08000] 32*256*4     ; next tile -> IN_B   (move)
move NRAM[0x14000] DRAM[0x474000] 32*128*4          ; previous output <- OUT_B   (io)
compute MAC_32 32x256x128 NRAM[0x00000], WRAM[0x00000] -> NRAM[0x10000]   ; IN_A x W0 -> OUT_A
sync
move SharedRAM[0x000000] NRAM[0x00000] 32*256*4     ; row tile 0 of the next block -> IN_A   (move)
move NRAM[0x10000] DRAM[0x478000] 32*128*4          ; previous output <- OUT_A   (io)
compute MAC_32 32x256x128 NRAM[0x08000], WRAM[0x00000] -> NRAM[0x14000]   ; IN_B x W0 -> OUT_B
sync

; ---- block 3 (W1), nothing left to prefetch --------------------
loop 15 as k                                            ; tiles 96 .. 125, two per iteration (addresses: tiles 96, 97)
    move SharedRAM[0x008000 + 0x10000*k] NRAM[0x08000] 32*256*4 ; next tile -> IN_B   (move)
    move NRAM[0x14000] DRAM[0x47c000 + 0x8000*k] 32*128*4 ; previous output <- OUT_B   (io)
    compute MAC_32 32x256x128 NRAM[0x00000], WRAM[0x20000] -> NRAM[0x10000]   ; IN_A x W1 -> OUT_A
    sync
    move SharedRAM[0x010000 + 0x10000*k] NRAM[0x00000] 32*256*4 ; next tile -> IN_A   (move)
    move NRAM[0x10000] DRAM[0x480000 + 0x8000*k] 32*128*4 ; previous output <- OUT_A   (io)
    compute MAC_32 32x256x128 NRAM[0x08000], WRAM[0x20000] -> NRAM[0x14000]   ; IN_B x W1 -> OUT_B
    sync
endloop
; tile 126 (A)
move SharedRAM[0x0f8000] NRAM[0x08000] 32*256*4         ; tile 127 -> IN_B   (move)
move NRAM[0x14000] DRAM[0x4f4000] 32*128*4              ; output 125 <- OUT_B   (io)
compute MAC_32 32x256x128 NRAM[0x00000], WRAM[0x20000] -> NRAM[0x10000]   ; IN_A x W1 -> OUT_A
sync
; tile 127 (B): no next tile
move NRAM[0x10000] DRAM[0x4f8000] 32*128*4              ; output 126 <- OUT_A   (io)
compute MAC_32 32x256x128 NRAM[0x08000], WRAM[0x20000] -> NRAM[0x14000]   ; IN_B x W1 -> OUT_B
sync

; ---- drain --------------------
move NRAM[0x14000] DRAM[0x4fc000] 32*128*4              ; output 127 <- OUT_B
sync

.core 1                                 ; as core 0: weight and output blocks 4 .. 7
; ---- core 1: fill --------------------
move DRAM[0x180000] WRAM[0x00000] 256*128*4
barrier
move SharedRAM[0x000000] NRAM[0x00000] 32*256*4
sync

; ---- block 0 (W0), prefetching block 1 into W1 --------------------
move SharedRAM[0x008000] NRAM[0x08000] 32*256*4
move DRAM[0x1a0000] WRAM[0x20000] 256*64*4
compute MAC_32 32x256x128 NRAM[0x00000], WRAM[0x00000] -> NRAM[0x10000]
sync
move SharedRAM[0x010000] NRAM[0x00000] 32*256*4
move NRAM[0x10000] DRAM[0x500000] 32*128*4
move DRAM[0x1b0000] WRAM[0x30000] 256*64*4
compute MAC_32 32x256x128 NRAM[0x08000], WRAM[0x00000] -> NRAM[0x14000]
sync
loop 14 as k
    move SharedRAM[0x018000 + 0x10000*k] NRAM[0x08000] 32*256*4
    move NRAM[0x14000] DRAM[0x504000 + 0x8000*k] 32*128*4
    compute MAC_32 32x256x128 NRAM[0x00000], WRAM[0x00000] -> NRAM[0x10000]
    sync
    move SharedRAM[0x020000 + 0x10000*k] NRAM[0x00000] 32*256*4
    move NRAM[0x10000] DRAM[0x508000 + 0x8000*k] 32*128*4
    compute MAC_32 32x256x128 NRAM[0x08000], WRAM[0x00000] -> NRAM[0x14000]
    sync
endloop
; tiles 30, 31: the last pair, whose next tile wraps to row tile 0
move SharedRAM[0x0f8000] NRAM[0x08000] 32*256*4
move NRAM[0x14000] DRAM[0x574000] 32*128*4
compute MAC_32 32x256x128 NRAM[0x00000], WRAM[0x00000] -> NRAM[0x10000]
sync
move SharedRAM[0x000000] NRAM[0x00000] 32*256*4
move NRAM[0x10000] DRAM[0x578000] 32*128*4
compute MAC_32 32x256x128 NRAM[0x08000], WRAM[0x00000] -> NRAM[0x14000]
sync

; ---- block 1 (W1), prefetching block 2 into W0 --------------------
move SharedRAM[0x008000] NRAM[0x08000] 32*256*4
move NRAM[0x14000] DRAM[0x57c000] 32*128*4
move DRAM[0x1c0000] WRAM[0x00000] 256*64*4
compute MAC_32 32x256x128 NRAM[0x00000], WRAM[0x20000] -> NRAM[0x10000]
sync
move SharedRAM[0x010000] NRAM[0x00000] 32*256*4
move NRAM[0x10000] DRAM[0x580000] 32*128*4
move DRAM[0x1d0000] WRAM[0x10000] 256*64*4
compute MAC_32 32x256x128 NRAM[0x08000], WRAM[0x20000] -> NRAM[0x14000]
sync
loop 14 as k
    move SharedRAM[0x018000 + 0x10000*k] NRAM[0x08000] 32*256*4
    move NRAM[0x14000] DRAM[0x584000 + 0x8000*k] 32*128*4
    compute MAC_32 32x256x128 NRAM[0x00000], WRAM[0x20000] -> NRAM[0x10000]
    sync
    move SharedRAM[0x020000 + 0x10000*k] NRAM[0x00000] 32*256*4
    move NRAM[0x10000] DRAM[0x588000 + 0x8000*k] 32*128*4
    compute MAC_32 32x256x128 NRAM[0x08000], WRAM[0x20000] -> NRAM[0x14000]
    sync
endloop
; tiles 62, 63: the last pair, whose next tile wraps to row tile 0
move SharedRAM[0x0f8000] NRAM[0x08000] 32*256*4
move NRAM[0x14000] DRAM[0x5f4000] 32*128*4
compute MAC_32 32x256x128 NRAM[0x00000], WRAM[0x20000] -> NRAM[0x10000]
sync
move SharedRAM[0x000000] NRAM[0x00000] 32*256*4
move NRAM[0x10000] DRAM[0x5f8000] 32*128*4
compute MAC_32 32x256x128 NRAM[0x08000], WRAM[0x20000] -> NRAM[0x14000]
sync

; ---- block 2 (W0), prefetching block 3 into W1 --------------------
move SharedRAM[0x008000] NRAM[0x08000] 32*256*4
move NRAM[0x14000] DRAM[0x5fc000] 32*128*4
move DRAM[0x1e0000] WRAM[0x20000] 256*64*4
compute MAC_32 32x256x128 NRAM[0x00000], WRAM[0x00000] -> NRAM[0x10000]
sync
move SharedRAM[0x010000] NRAM[0x00000] 32*256*4
move NRAM[0x10000] DRAM[0x600000] 32*128*4
move DRAM[0x1f0000] WRAM[0x30000] 256*64*4
compute MAC_32 32x256x128 NRAM[0x08000], WRAM[0x00000] -> NRAM[0x14000]
sync
loop 14 as k
    move SharedRAM[0x018000 + 0x10000*k] NRAM[0x08000] 32*256*4
    move NRAM[0x14000] DRAM[0x604000 + 0x8000*k] 32*128*4
    compute MAC_32 32x256x128 NRAM[0x00000], WRAM[0x00000] -> NRAM[0x10000]
    sync
    move SharedRAM[0x020000 + 0x10000*k] NRAM[0x00000] 32*256*4
    move NRAM[0x10000] DRAM[0x608000 + 0x8000*k] 32*128*4
    compute MAC_32 32x256x128 NRAM[0x08000], WRAM[0x00000] -> NRAM[0x14000]
    sync
endloop
; tiles 94, 95: the last pair, whose next tile wraps to row tile 0
move SharedRAM[0x0f8000] NRAM[0x08000] 32*256*4
move NRAM[0x14000] DRAM[0x674000] 32*128*4
compute MAC_32 32x256x128 NRAM[0x00000], WRAM[0x00000] -> NRAM[0x10000]
sync
move SharedRAM[0x000000] NRAM[0x00000] 32*256*4
move NRAM[0x10000] DRAM[0x678000] 32*128*4
compute MAC_32 32x256x128 NRAM[0x08000], WRAM[0x00000] -> NRAM[0x14000]
sync

; ---- block 3 (W1), nothing left to prefetch --------------------
loop 15 as k
    move SharedRAM[0x008000 + 0x10000*k] NRAM[0x08000] 32*256*4
    move NRAM[0x14000] DRAM[0x67c000 + 0x8000*k] 32*128*4
    compute MAC_32 32x256x128 NRAM[0x00000], WRAM[0x20000] -> NRAM[0x10000]
    sync
    move SharedRAM[0x010000 + 0x10000*k] NRAM[0x00000] 32*256*4
    move NRAM[0x10000] DRAM[0x680000 + 0x8000*k] 32*128*4
    compute MAC_32 32x256x128 NRAM[0x08000], WRAM[0x20000] -> NRAM[0x14000]
    sync
endloop
move SharedRAM[0x0f8000] NRAM[0x08000] 32*256*4
move NRAM[0x14000] DRAM[0x6f4000] 32*128*4
compute MAC_32 32x256x128 NRAM[0x00000], WRAM[0x20000] -> NRAM[0x10000]
sync
move NRAM[0x10000] DRAM[0x6f8000] 32*128*4
compute MAC_32 32x256x128 NRAM[0x08000], WRAM[0x20000] -> NRAM[0x14000]
sync

; ---- drain --------------------
move NRAM[0x14000] DRAM[0x6fc000] 32*128*4
sync

.core 2                                 ; as core 0: weight and output blocks 8 .. 11
; ---- core 2: fill --------------------
move DRAM[0x200000] WRAM[0x00000] 256*128*4
barrier
move SharedRAM[0x000000] NRAM[0x00000] 32*256*4
sync

; ---- block 0 (W0), prefetching block 1 into W1 --------------------
move SharedRAM[0x008000] NRAM[0x08000] 32*256*4
move DRAM[0x220000] WRAM[0x20000] 256*64*4
compute MAC_32 32x256x128 NRAM[0x00000], WRAM[0x00000] -> NRAM[0x10000]
sync
move SharedRAM[0x010000] NRAM[0x00000] 32*256*4
move NRAM[0x10000] DRAM[0x700000] 32*128*4
move DRAM[0x230000] WRAM[0x30000] 256*64*4
compute MAC_32 32x256x128 NRAM[0x08000], WRAM[0x00000] -> NRAM[0x14000]
sync
loop 14 as k
    move SharedRAM[0x018000 + 0x10000*k] NRAM[0x08000] 32*256*4
    move NRAM[0x14000] DRAM[0x704000 + 0x8000*k] 32*128*4
    compute MAC_32 32x256x128 NRAM[0x00000], WRAM[0x00000] -> NRAM[0x10000]
    sync
    move SharedRAM[0x020000 + 0x10000*k] NRAM[0x00000] 32*256*4
    move NRAM[0x10000] DRAM[0x708000 + 0x8000*k] 32*128*4
    compute MAC_32 32x256x128 NRAM[0x08000], WRAM[0x00000] -> NRAM[0x14000]
    sync
endloop
; tiles 30, 31: the last pair, whose next tile wraps to row tile 0
move SharedRAM[0x0f8000] NRAM[0x08000] 32*256*4
move NRAM[0x14000] DRAM[0x774000] 32*128*4
compute MAC_32 32x256x128 NRAM[0x00000], WRAM[0x00000] -> NRAM[0x10000]
sync
move SharedRAM[0x000000] NRAM[0x00000] 32*256*4
move NRAM[0x10000] DRAM[0x778000] 32*128*4
compute MAC_32 32x256x128 NRAM[0x08000], WRAM[0x00000] -> NRAM[0x14000]
sync

; ---- block 1 (W1), prefetching block 2 into W0 --------------------
move SharedRAM[0x008000] NRAM[0x08000] 32*256*4
move NRAM[0x14000] DRAM[0x77c000] 32*128*4
move DRAM[0x240000] WRAM[0x00000] 256*64*4
compute MAC_32 32x256x128 NRAM[0x00000], WRAM[0x20000] -> NRAM[0x10000]
sync
move SharedRAM[0x010000] NRAM[0x00000] 32*256*4
move NRAM[0x10000] DRAM[0x780000] 32*128*4
move DRAM[0x250000] WRAM[0x10000] 256*64*4
compute MAC_32 32x256x128 NRAM[0x08000], WRAM[0x20000] -> NRAM[0x14000]
sync
loop 14 as k
    move SharedRAM[0x018000 + 0x10000*k] NRAM[0x08000] 32*256*4
    move NRAM[0x14000] DRAM[0x784000 + 0x8000*k] 32*128*4
    compute MAC_32 32x256x128 NRAM[0x00000], WRAM[0x20000] -> NRAM[0x10000]
    sync
    move SharedRAM[0x020000 + 0x10000*k] NRAM[0x00000] 32*256*4
    move NRAM[0x10000] DRAM[0x788000 + 0x8000*k] 32*128*4
    compute MAC_32 32x256x128 NRAM[0x08000], WRAM[0x20000] -> NRAM[0x14000]
    sync
endloop
; tiles 62, 63: the last pair, whose next tile wraps to row tile 0
move SharedRAM[0x0f8000] NRAM[0x08000] 32*256*4
move NRAM[0x14000] DRAM[0x7f4000] 32*128*4
compute MAC_32 32x256x128 NRAM[0x00000], WRAM[0x20000] -> NRAM[0x10000]
sync
move SharedRAM[0x000000] NRAM[0x00000] 32*256*4
move NRAM[0x10000] DRAM[0x7f8000] 32*128*4
compute MAC_32 32x256x128 NRAM[0x08000], WRAM[0x20000] -> NRAM[0x14000]
sync

; ---- block 2 (W0), prefetching block 3 into W1 --------------------
move SharedRAM[0x008000] NRAM[0x08000] 32*256*4
move NRAM[0x14000] DRAM[0x7fc000] 32*128*4
move DRAM[0x260000] WRAM[0x20000] 256*64*4
compute MAC_32 32x256x128 NRAM[0x00000], WRAM[0x00000] -> NRAM[0x10000]
sync
move SharedRAM[0x010000] NRAM[0x00000] 32*256*4
move NRAM[0x10000] DRAM[0x800000] 32*128*4
move DRAM[0x270000] WRAM[0x30000] 256*64*4
compute MAC_32 32x256x128 NRAM[0x08000], WRAM[0x00000] -> NRAM[0x14000]
sync
loop 14 as k
    move SharedRAM[0x018000 + 0x10000*k] NRAM[0x08000] 32*256*4
    move NRAM[0x14000] DRAM[0x804000 + 0x8000*k] 32*128*4
    compute MAC_32 32x256x128 NRAM[0x00000], WRAM[0x00000] -> NRAM[0x10000]
    sync
    move SharedRAM[0x020000 + 0x10000*k] NRAM[0x00000] 32*256*4
    move NRAM[0x10000] DRAM[0x808000 + 0x8000*k] 32*128*4
    compute MAC_32 32x256x128 NRAM[0x08000], WRAM[0x00000] -> NRAM[0x14000]
    sync
endloop
; tiles 94, 95: the last pair, whose next tile wraps to row tile 0
move SharedRAM[0x0f8000] NRAM[0x08000] 32*256*4
move NRAM[0x14000] DRAM[0x874000] 32*128*4
compute MAC_32 32x256x128 NRAM[0x00000], WRAM[0x00000] -> NRAM[0x10000]
sync
move SharedRAM[0x000000] NRAM[0x00000] 32*256*4
move NRAM[0x10000] DRAM[0x878000] 32*128*4
compute MAC_32 32x256x128 NRAM[0x08000], WRAM[0x00000] -> NRAM[0x14000]
sync

; ---- block 3 (W1), nothing left to prefetch --------------------
loop 15 as k
    move SharedRAM[0x008000 + 0x10000*k] NRAM[0x08000] 32*256*4
    move NRAM[0x14000] DRAM[0x87c000 + 0x8000*k] 32*128*4
    compute MAC_32 32x256x128 NRAM[0x00000], WRAM[0x20000] -> NRAM[0x10000]
    sync
    move SharedRAM[0x010000 + 0x10000*k] NRAM[0x00000] 32*256*4
    move NRAM[0x10000] DRAM[0x880000 + 0x8000*k] 32*128*4
    compute MAC_32 32x256x128 NRAM[0x08000], WRAM[0x20000] -> NRAM[0x14000]
    sync
endloop
move SharedRAM[0x0f8000] NRAM[0x08000] 32*256*4
move NRAM[0x14000] DRAM[0x8f4000] 32*128*4
compute MAC_32 32x256x128 NRAM[0x00000], WRAM[0x20000] -> NRAM[0x10000]
sync
move NRAM[0x10000] DRAM[0x8f8000] 32*128*4
compute MAC_32 32x256x128 NRAM[0x08000], WRAM[0x20000] -> NRAM[0x14000]
sync

; ---- drain --------------------
move NRAM[0x14000] DRAM[0x8fc000] 32*128*4
sync

.core 3                                 ; as core 0: weight and output blocks 12 .. 15
; ---- core 3: fill --------------------
move DRAM[0x280000] WRAM[0x00000] 256*128*4
barrier
move SharedRAM[0x000000] NRAM[0x00000] 32*256*4
sync

; ---- block 0 (W0), prefetching block 1 into W1 --------------------
move SharedRAM[0x008000] NRAM[0x08000] 32*256*4
move DRAM[0x2a0000] WRAM[0x20000] 256*64*4
compute MAC_32 32x256x128 NRAM[0x00000], WRAM[0x00000] -> NRAM[0x10000]
sync
move SharedRAM[0x010000] NRAM[0x00000] 32*256*4
move NRAM[0x10000] DRAM[0x900000] 32*128*4
move DRAM[0x2b0000] WRAM[0x30000] 256*64*4
compute MAC_32 32x256x128 NRAM[0x08000], WRAM[0x00000] -> NRAM[0x14000]
sync
loop 14 as k
    move SharedRAM[0x018000 + 0x10000*k] NRAM[0x08000] 32*256*4
    move NRAM[0x14000] DRAM[0x904000 + 0x8000*k] 32*128*4
    compute MAC_32 32x256x128 NRAM[0x00000], WRAM[0x00000] -> NRAM[0x10000]
    sync
    move SharedRAM[0x020000 + 0x10000*k] NRAM[0x00000] 32*256*4
    move NRAM[0x10000] DRAM[0x908000 + 0x8000*k] 32*128*4
    compute MAC_32 32x256x128 NRAM[0x08000], WRAM[0x00000] -> NRAM[0x14000]
    sync
endloop
; tiles 30, 31: the last pair, whose next tile wraps to row tile 0
move SharedRAM[0x0f8000] NRAM[0x08000] 32*256*4
move NRAM[0x14000] DRAM[0x974000] 32*128*4
compute MAC_32 32x256x128 NRAM[0x00000], WRAM[0x00000] -> NRAM[0x10000]
sync
move SharedRAM[0x000000] NRAM[0x00000] 32*256*4
move NRAM[0x10000] DRAM[0x978000] 32*128*4
compute MAC_32 32x256x128 NRAM[0x08000], WRAM[0x00000] -> NRAM[0x14000]
sync

; ---- block 1 (W1), prefetching block 2 into W0 --------------------
move SharedRAM[0x008000] NRAM[0x08000] 32*256*4
move NRAM[0x14000] DRAM[0x97c000] 32*128*4
move DRAM[0x2c0000] WRAM[0x00000] 256*64*4
compute MAC_32 32x256x128 NRAM[0x00000], WRAM[0x20000] -> NRAM[0x10000]
sync
move SharedRAM[0x010000] NRAM[0x00000] 32*256*4
move NRAM[0x10000] DRAM[0x980000] 32*128*4
move DRAM[0x2d0000] WRAM[0x10000] 256*64*4
compute MAC_32 32x256x128 NRAM[0x08000], WRAM[0x20000] -> NRAM[0x14000]
sync
loop 14 as k
    move SharedRAM[0x018000 + 0x10000*k] NRAM[0x08000] 32*256*4
    move NRAM[0x14000] DRAM[0x984000 + 0x8000*k] 32*128*4
    compute MAC_32 32x256x128 NRAM[0x00000], WRAM[0x20000] -> NRAM[0x10000]
    sync
    move SharedRAM[0x020000 + 0x10000*k] NRAM[0x00000] 32*256*4
    move NRAM[0x10000] DRAM[0x988000 + 0x8000*k] 32*128*4
    compute MAC_32 32x256x128 NRAM[0x08000], WRAM[0x20000] -> NRAM[0x14000]
    sync
endloop
; tiles 62, 63: the last pair, whose next tile wraps to row tile 0
move SharedRAM[0x0f8000] NRAM[0x08000] 32*256*4
move NRAM[0x14000] DRAM[0x9f4000] 32*128*4
compute MAC_32 32x256x128 NRAM[0x00000], WRAM[0x20000] -> NRAM[0x10000]
sync
move SharedRAM[0x000000] NRAM[0x00000] 32*256*4
move NRAM[0x10000] DRAM[0x9f8000] 32*128*4
compute MAC_32 32x256x128 NRAM[0x08000], WRAM[0x20000] -> NRAM[0x14000]
sync

; ---- block 2 (W0), prefetching block 3 into W1 --------------------
move SharedRAM[0x008000] NRAM[0x08000] 32*256*4
move NRAM[0x14000] DRAM[0x9fc000] 32*128*4
move DRAM[0x2e0000] WRAM[0x20000] 256*64*4
compute MAC_32 32x256x128 NRAM[0x00000], WRAM[0x00000] -> NRAM[0x10000]
sync
move SharedRAM[0x010000] NRAM[0x00000] 32*256*4
move NRAM[0x10000] DRAM[0xa00000] 32*128*4
move DRAM[0x2f0000] WRAM[0x30000] 256*64*4
compute MAC_32 32x256x128 NRAM[0x08000], WRAM[0x00000] -> NRAM[0x14000]
sync
loop 14 as k
    move SharedRAM[0x018000 + 0x10000*k] NRAM[0x08000] 32*256*4
    move NRAM[0x14000] DRAM[0xa04000 + 0x8000*k] 32*128*4
    compute MAC_32 32x256x128 NRAM[0x00000], WRAM[0x00000] -> NRAM[0x10000]
    sync
    move SharedRAM[0x020000 + 0x10000*k] NRAM[0x00000] 32*256*4
    move NRAM[0x10000] DRAM[0xa08000 + 0x8000*k] 32*128*4
    compute MAC_32 32x256x128 NRAM[0x08000], WRAM[0x00000] -> NRAM[0x14000]
    sync
endloop
; tiles 94, 95: the last pair, whose next tile wraps to row tile 0
move SharedRAM[0x0f8000] NRAM[0x08000] 32*256*4
move NRAM[0x14000] DRAM[0xa74000] 32*128*4
compute MAC_32 32x256x128 NRAM[0x00000], WRAM[0x00000] -> NRAM[0x10000]
sync
move SharedRAM[0x000000] NRAM[0x00000] 32*256*4
move NRAM[0x10000] DRAM[0xa78000] 32*128*4
compute MAC_32 32x256x128 NRAM[0x08000], WRAM[0x00000] -> NRAM[0x14000]
sync

; ---- block 3 (W1), nothing left to prefetch --------------------
loop 15 as k
    move SharedRAM[0x008000 + 0x10000*k] NRAM[0x08000] 32*256*4
    move NRAM[0x14000] DRAM[0xa7c000 + 0x8000*k] 32*128*4
    compute MAC_32 32x256x128 NRAM[0x00000], WRAM[0x20000] -> NRAM[0x10000]
    sync
    move SharedRAM[0x010000 + 0x10000*k] NRAM[0x00000] 32*256*4
    move NRAM[0x10000] DRAM[0xa80000 + 0x8000*k] 32*128*4
    compute MAC_32 32x256x128 NRAM[0x08000], WRAM[0x20000] -> NRAM[0x14000]
    sync
endloop
move SharedRAM[0x0f8000] NRAM[0x08000] 32*256*4
move NRAM[0x14000] DRAM[0xaf4000] 32*128*4
compute MAC_32 32x256x128 NRAM[0x00000], WRAM[0x20000] -> NRAM[0x10000]
sync
move NRAM[0x10000] DRAM[0xaf8000] 32*128*4
compute MAC_32 32x256x128 NRAM[0x08000], WRAM[0x20000] -> NRAM[0x14000]
sync

; ---- drain --------------------
move NRAM[0x14000] DRAM[0xafc000] 32*128*4
sync
