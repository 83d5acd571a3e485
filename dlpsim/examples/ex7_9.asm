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
; Layout (all row-major; tile t = rows 64t .. 64t+63):
;   DRAM  input   0x000000 .. 0x100000   tile t at 0x10000 * t
;         weights 0x100000 .. 0x120000
;         output  0x120000 .. 0x1a0000   tile t at 0x120000 + 0x8000 * t
;   NRAM  IN  0x00000 .. 0x10000  (64 KB)    OUT 0x10000 .. 0x18000  (32 KB)
;   WRAM  W   0x00000 .. 0x20000  (128 KB)
; The loop's index t (`loop 16 as t`) moves the DRAM operands to tile t's: iteration t reads
; input tile t and writes output tile t, so the program computes the whole product
; (tests/test_programs_compute.py runs it on random x and W and compares with x @ W).
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

move DRAM[0x100000] WRAM[0x00000] 256*128*4        ; all weights, once -> W
loop 16 as t                                        ; 16 tiles of 64 input rows
    move DRAM[0x10000*t] NRAM[0x00000] 64*256*4     ; input tile t -> IN
    sync                                            ; IN (and, first time, W) complete
    compute MAC_32 64x256x128 NRAM[0x00000], WRAM[0x00000] -> NRAM[0x10000]  ; IN x W -> OUT
    sync                                            ; OUT complete
    move NRAM[0x10000] DRAM[0x120000 + 0x8000*t] 64*128*4  ; output tile t <- OUT; the next
endloop                                             ; tile's compute rewrites OUT only after
                                                    ; the next sync, when this store is done
sync
