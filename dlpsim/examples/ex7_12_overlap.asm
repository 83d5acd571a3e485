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
; Schedule: step t = { copy input t+1 (move queue), store output t-1 (io), [weight chunk],
;          compute tile t, sync }. During the first two steps of blocks 0..2 the next weight
;          block is prefetched into the other WRAM buffer in two 64 KB chunks.
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
move DRAM SharedRAM 1024*256*4          ; the whole input, once
barrier

.core all
; ---- fill ---------------------------------------------------------------------------------
move DRAM WRAM[0x00000] 256*128*4       ; weight block 0 -> W0
barrier                                 ; the input is in SharedRAM
move SharedRAM NRAM[0x00000] 32*256*4   ; tile 0 -> IN_A
sync

; ---- block 0 (W0), prefetching block 1 into W1 --------------------------------------------
; tile 0 (A): nothing to store yet
move SharedRAM NRAM[0x08000] 32*256*4   ; tile 1 -> IN_B
move DRAM WRAM[0x20000] 256*64*4        ; block 1, first half -> W1
compute MAC_32 32*256*128               ; IN_A x W0 -> OUT_A
sync
; tile 1 (B)
move SharedRAM NRAM[0x00000] 32*256*4   ; tile 2 -> IN_A
move NRAM[0x10000] DRAM 32*128*4        ; output 0 <- OUT_A
move DRAM WRAM[0x30000] 256*64*4        ; block 1, second half -> W1
compute MAC_32 32*256*128               ; IN_B x W0 -> OUT_B
sync
loop 15                                 ; tiles 2 .. 31
    move SharedRAM NRAM[0x08000] 32*256*4   ; next tile -> IN_B
    move NRAM[0x14000] DRAM 32*128*4        ; previous output <- OUT_B
    compute MAC_32 32*256*128               ; IN_A x W0 -> OUT_A
    sync
    move SharedRAM NRAM[0x00000] 32*256*4   ; next tile -> IN_A
    move NRAM[0x10000] DRAM 32*128*4        ; previous output <- OUT_A
    compute MAC_32 32*256*128               ; IN_B x W0 -> OUT_B
    sync
endloop

; ---- block 1 (W1), prefetching block 2 into W0 --------------------------------------------
move SharedRAM NRAM[0x08000] 32*256*4   ; tile 33 -> IN_B
move NRAM[0x14000] DRAM 32*128*4        ; output 31 <- OUT_B
move DRAM WRAM[0x00000] 256*64*4        ; block 2, first half -> W0
compute MAC_32 32*256*128               ; tile 32: IN_A x W1 -> OUT_A
sync
move SharedRAM NRAM[0x00000] 32*256*4   ; tile 34 -> IN_A
move NRAM[0x10000] DRAM 32*128*4        ; output 32 <- OUT_A
move DRAM WRAM[0x10000] 256*64*4        ; block 2, second half -> W0
compute MAC_32 32*256*128               ; tile 33: IN_B x W1 -> OUT_B
sync
loop 15                                 ; tiles 34 .. 63
    move SharedRAM NRAM[0x08000] 32*256*4
    move NRAM[0x14000] DRAM 32*128*4
    compute MAC_32 32*256*128               ; IN_A x W1 -> OUT_A
    sync
    move SharedRAM NRAM[0x00000] 32*256*4
    move NRAM[0x10000] DRAM 32*128*4
    compute MAC_32 32*256*128               ; IN_B x W1 -> OUT_B
    sync
endloop

; ---- block 2 (W0), prefetching block 3 into W1 --------------------------------------------
move SharedRAM NRAM[0x08000] 32*256*4   ; tile 65 -> IN_B
move NRAM[0x14000] DRAM 32*128*4        ; output 63 <- OUT_B
move DRAM WRAM[0x20000] 256*64*4        ; block 3, first half -> W1
compute MAC_32 32*256*128               ; tile 64: IN_A x W0 -> OUT_A
sync
move SharedRAM NRAM[0x00000] 32*256*4   ; tile 66 -> IN_A
move NRAM[0x10000] DRAM 32*128*4        ; output 64 <- OUT_A
move DRAM WRAM[0x30000] 256*64*4        ; block 3, second half -> W1
compute MAC_32 32*256*128               ; tile 65: IN_B x W0 -> OUT_B
sync
loop 15                                 ; tiles 66 .. 95
    move SharedRAM NRAM[0x08000] 32*256*4
    move NRAM[0x14000] DRAM 32*128*4
    compute MAC_32 32*256*128               ; IN_A x W0 -> OUT_A
    sync
    move SharedRAM NRAM[0x00000] 32*256*4
    move NRAM[0x10000] DRAM 32*128*4
    compute MAC_32 32*256*128               ; IN_B x W0 -> OUT_B
    sync
endloop

; ---- block 3 (W1), nothing left to prefetch ------------------------------------------------
loop 15                                 ; tiles 96 .. 125
    move SharedRAM NRAM[0x08000] 32*256*4
    move NRAM[0x14000] DRAM 32*128*4
    compute MAC_32 32*256*128               ; IN_A x W1 -> OUT_A
    sync
    move SharedRAM NRAM[0x00000] 32*256*4
    move NRAM[0x10000] DRAM 32*128*4
    compute MAC_32 32*256*128               ; IN_B x W1 -> OUT_B
    sync
endloop
; tile 126 (A)
move SharedRAM NRAM[0x08000] 32*256*4   ; tile 127 -> IN_B
move NRAM[0x14000] DRAM 32*128*4        ; output 125 <- OUT_B
compute MAC_32 32*256*128               ; IN_A x W1 -> OUT_A
sync
; tile 127 (B): no next tile
move NRAM[0x10000] DRAM 32*128*4        ; output 126 <- OUT_A
compute MAC_32 32*256*128               ; IN_B x W1 -> OUT_B
sync

; ---- drain ---------------------------------------------------------------------------------
move NRAM[0x14000] DRAM 32*128*4        ; output 127 <- OUT_B
sync
