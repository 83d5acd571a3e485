; Exercise 7.10 -- the layer of 7.9 with sparsity, on the single-core DLP-S. SERIAL version.
;
; Machine: dlp-s (1 GHz, 256 FP32 MACs/cycle, DRAM 64 B/cycle, NRAM 128 KB, WRAM 256 KB).
; Layer:   input 1024x256, weights 256x128, output 1024x128, all FP32 (as 7.9).
; Sparsity (textbook): weights compress to 1/4 of their volume, input neurons to 1/2.
; ASSUMPTIONS (the textbook speaks only of volume):
;   - compute count unchanged: the MAC array processes the dense layer, 1024*256*128 MACs;
;   - outputs are not compressed (dense 1024x128 FP32);
;   - data stay compressed in NRAM/WRAM (decompression is free and inside the compute).
; Data:    weights 131072 / 4     =  32768 B = 32 KB (compressed, fits WRAM: loaded once)
;          input   1048576 / 2    = 524288 B = 512 KB compressed
;          output  1024*128*4     = 524288 B = 512 KB
; Tiling:  as 7.9: 16 tiles of 64 rows. Per tile: input 64*256*4/2 = 32 KB (compressed),
;          output 64*128*4 = 32 KB; 64 KB <= 128 KB NRAM.
; Layout (tile t = rows 64t .. 64t+63; compressed data in the compressor's own format):
;   DRAM  input   0x000000 .. 0x080000   compressed, tile t at 0x8000 * t
;         weights 0x080000 .. 0x088000   compressed
;         output  0x088000 .. 0x108000   dense row-major, tile t at 0x88000 + 0x8000 * t
;   NRAM  IN  0x00000 .. 0x08000  (32 KB compressed)   OUT 0x08000 .. 0x10000  (32 KB dense)
;   WRAM  W   0x00000 .. 0x08000  (32 KB compressed)
; The compute is the dense 64x256x128 GEMM (by assumption), but its A and B are not plain
; 64x256 and 256x128 matrices: they are given as explicit byte ranges, the compressed sizes.
; The loop's index t moves the DRAM operands to tile t's. No functional check: `--functional`
; refuses this program, as the compressed A and B (32 KB each) are smaller than the 64x256 and
; 256x128 matrices the MAC multiplies, and the compressor's format is not modelled, so they
; hold no values to compute on (tests/test_programs_compute.py checks the refusal).
;
; HAND ESTIMATE (contract rules; only one transfer is ever on the DRAM link):
;   load weights         32768 / 64       =  512 cycles
;   per tile:
;     load input         32768 / 64       =  512 cycles
;     sync
;     compute            64*256*128 / 256 = 8192 cycles (dense, by assumption)
;     sync
;     store output       32768 / 64       =  512 cycles
;     per tile           512 + 8192 + 512 = 9216 cycles
;   total                512 + 16 * 9216 = 147968 cycles (7.9: 157696; saves 9728 = 6.2%)
; Roofline bound: compute 131072; DRAM (32768 + 524288 + 524288) / 64 = 16896 -> 131072.

.machine dlp-s

move DRAM[0x080000] WRAM[0x00000] 32768            ; compressed weights: 256*128*4 / 4 = 32 KB
loop 16 as t                                        ; 16 tiles of 64 input rows
    move DRAM[0x8000*t] NRAM[0x00000] 32768         ; compressed input tile t: 64*256*4 / 2
    sync                                            ; IN (and, first time, W) complete
    compute MAC_32 64x256x128 NRAM[0x0:0x8000], WRAM[0x0:0x8000] -> NRAM[0x8000:0x10000]
                                                    ; dense GEMM on compressed IN, W -> OUT
    sync                                            ; OUT complete
    move NRAM[0x08000] DRAM[0x088000 + 0x8000*t] 64*128*4  ; output tile t <- OUT, dense
endloop
sync
