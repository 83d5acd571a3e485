; Exercise 7.12 -- fully connected layer 1024x256 x 256x2048 on the four-core DLP-M.
; SERIAL version: every transfer and compute is separated by a sync.
;
; Machine: dlp-m (4 cores: 256 FP32 MACs/cycle, NRAM 128 KB, WRAM 256 KB each; SharedRAM 2 MB;
;          DRAM 128 B/cycle for the chip; SharedRAM <-> each core 1000 B/cycle).
; Layer:   input 1024x256, weights 256x2048, output 1024x2048, all FP32.
; Data:    input   1024*256*4  = 1 MB  (fits the 2 MB SharedRAM: fetched from DRAM once)
;          weights 256*2048*4  = 2 MB
;          output  1024*2048*4 = 8 MB
;          MACs    1024*256*2048 = 536870912
; Split:   output columns across the cores: core i owns columns 512i .. 512i+511, so it reads
;          only its own weights (512 KB) and every core reads the whole input from SharedRAM.
; Tiling per core:
;          2 weight blocks of 256 columns: 256*256*4 = 256 KB = the whole WRAM;
;          per block, 16 row tiles of 64 rows: input 64*256*4 = 64 KB, output 64*256*4 = 64 KB;
;          64 + 64 = 128 KB = the whole NRAM.
; Layout (column block j = output columns 256j .. 256j+255; core i owns blocks 2i and 2i+1):
;   DRAM  input   0x000000 .. 0x100000  row-major 1024x256
;         weights 0x100000 .. 0x300000  block-major: block j (256x256) at 0x100000 + 0x40000 * j
;         output  0x300000 .. 0xb00000  block-major: block j (1024x256) at 0x300000 + 0x100000 * j,
;                                       its row tile r (64 rows, 64 KB) at + 0x10000 * r
;   SharedRAM  input 0x000000 .. 0x100000, row tile r at 0x10000 * r
;   each core's NRAM  IN 0x00000 .. 0x10000   OUT 0x10000 .. 0x20000
;   each core's WRAM  W  0x00000 .. 0x40000   (its current weight block)
; Each core reads its own weights and writes its own output blocks, so every core has its own
; section with its own DRAM addresses (the rest of the four streams is identical). The loops'
; indices move the operands: `loop 2 as j` is the core's weight and output block 2i+j and
; `loop 16 as r` its row tile r, so the program computes the whole product
; (tests/test_programs_compute.py checks y = x @ W, with W and y block-major as laid out above).
;
; HAND ESTIMATE (contract rules). The four cores run identical streams in lockstep, so their
; DRAM transfers start together, have equal sizes and share the 128 B/cycle link equally
; (a core's transfer of s bytes takes 4*s/128 cycles).
;   mem: input DRAM -> SharedRAM, alone: 1048576 / 128                 =  8192
;   barrier
;   per weight block (x 2):
;     weights DRAM -> WRAM, 4 x 262144 B: 4*262144/128                 =  8192
;     per row tile (x 16):
;       input SharedRAM -> NRAM, own link: ceil(65536 / 1000)          =    66
;       compute 64*256*256 / 256                                       = 16384
;       store NRAM -> DRAM, 4 x 65536 B: 4*65536/128                   =  2048
;       per tile 66 + 16384 + 2048                                     = 18498
;     per block 8192 + 16 * 18498                                      = 304160
;   total 8192 + 2 * 304160 = 616512 cycles
; Roofline bound: compute 536870912 / 256 / 4 = 524288; DRAM (1 + 2 + 8 MB) / 128 =
;   11534336 / 128 = 90112 -> 524288.

.machine dlp-m

.core mem
move DRAM[0x000000] SharedRAM[0x000000] 1024*256*4  ; the whole input, once
barrier

.core all
barrier                                         ; input is in SharedRAM

.core 0                                         ; weight blocks 0, 1; output blocks 0, 1
loop 2 as j                                     ; weight blocks of 256 columns
    move DRAM[0x100000 + 0x40000*j] WRAM[0x00000] 256*256*4     ; this core's weight block -> W
    sync                                        ; W complete
    loop 16 as r                                ; row tiles of 64 rows
        move SharedRAM[0x10000*r] NRAM[0x00000] 64*256*4 ; input rows -> IN
        sync                                    ; IN complete
        compute MAC_32 64x256x256 NRAM[0x00000], WRAM[0x00000] -> NRAM[0x10000]   ; IN x W -> OUT
        sync                                    ; OUT complete
        move NRAM[0x10000] DRAM[0x300000 + 0x100000*j + 0x10000*r] 64*256*4  ; output tile <- OUT
        sync                                    ; OUT free, IN free
    endloop
endloop

.core 1                                         ; as core 0: weight blocks 2, 3; output blocks 2, 3
loop 2 as j
    move DRAM[0x180000 + 0x40000*j] WRAM[0x00000] 256*256*4
    sync
    loop 16 as r
        move SharedRAM[0x10000*r] NRAM[0x00000] 64*256*4
        sync
        compute MAC_32 64x256x256 NRAM[0x00000], WRAM[0x00000] -> NRAM[0x10000]
        sync
        move NRAM[0x10000] DRAM[0x500000 + 0x100000*j + 0x10000*r] 64*256*4
        sync
    endloop
endloop

.core 2                                         ; as core 0: weight blocks 4, 5; output blocks 4, 5
loop 2 as j
    move DRAM[0x200000 + 0x40000*j] WRAM[0x00000] 256*256*4
    sync
    loop 16 as r
        move SharedRAM[0x10000*r] NRAM[0x00000] 64*256*4
        sync
        compute MAC_32 64x256x256 NRAM[0x00000], WRAM[0x00000] -> NRAM[0x10000]
        sync
        move NRAM[0x10000] DRAM[0x700000 + 0x100000*j + 0x10000*r] 64*256*4
        sync
    endloop
endloop

.core 3                                         ; as core 0: weight blocks 6, 7; output blocks 6, 7
loop 2 as j
    move DRAM[0x280000 + 0x40000*j] WRAM[0x00000] 256*256*4
    sync
    loop 16 as r
        move SharedRAM[0x10000*r] NRAM[0x00000] 64*256*4
        sync
        compute MAC_32 64x256x256 NRAM[0x00000], WRAM[0x00000] -> NRAM[0x10000]
        sync
        move NRAM[0x10000] DRAM[0x900000 + 0x100000*j + 0x10000*r] 64*256*4
        sync
    endloop
endloop
