; Exercise 7.9 -- fully connected layer, batch of 1024, on the single-core DLP-S.
; SERIAL version: each tile is loaded, computed and stored with a sync in between.
;
; Machine: dlp-s (1 GHz, 256 FP32 MACs/cycle, DRAM 64 B/cycle, NRAM 128 KB, WRAM 256 KB).
; Layer:   input 1024x256, weights 256x128, output 1024x128, all FP32.
; Data:    input   1024*256*4 = 1048576 B = 1 MB   (does NOT fit the 128 KB NRAM)
;          weights  256*128*4 =  131072 B = 128 KB (fits WRAM: loaded once)
;          output  1024*128*4 =  524288 B = 512 KB
;          MACs    1024*256*128 = 33554432
; Tiling:  16 tiles of 64 rows. Per tile: input 64*256*4 = 64 KB, output 64*128*4 = 32 KB;
;          64 + 32 = 96 KB <= 128 KB NRAM. (A row costs 1024 + 512 B, so at most 85 rows fit.)
;
; HAND ESTIMATE (contract rules; only one transfer is ever on the DRAM link):
;   load weights         131072 / 64      = 2048 cycles (io queue, before tile 0's input)
;   per tile:
;     load input         65536 / 64       = 1024 cycles
;     sync
;     compute            64*256*128 / 256 = 8192 cycles
;     sync
;     store output       32768 / 64       =  512 cycles (the next tile's load queues behind
;                                                         it on the io queue, so no overlap)
;     per tile           1024 + 8192 + 512 = 9728 cycles
;   total                2048 + 16 * 9728 = 157696 cycles
; Roofline bound: compute 33554432 / 256 = 131072; DRAM (131072 + 1048576 + 524288) / 64
;   = 26624 -> 131072 (compute-bound: the serial version wastes 26624 cycles on DMA).

.machine dlp-s

move DRAM WRAM 256*128*4            ; all weights, once
loop 16                             ; 16 tiles of 64 input rows
    move DRAM NRAM 64*256*4         ; input tile
    sync
    compute MAC_32 64*256*128       ; 64 rows x 256 x 128
    sync
    move NRAM DRAM 64*128*4         ; output tile
endloop
sync
