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
move DRAM SharedRAM 1024*256*4          ; the whole input, once
barrier

.core all
barrier                                 ; input is in SharedRAM
loop 2                                  ; weight blocks of 256 columns
    move DRAM WRAM 256*256*4            ; this core's weight block
    sync
    loop 16                             ; row tiles of 64 rows
        move SharedRAM NRAM 64*256*4    ; input rows
        sync
        compute MAC_32 64*256*256       ; 64 rows x 256 x 256 columns
        sync
        move NRAM DRAM 64*256*4         ; output tile
        sync
    endloop
endloop
