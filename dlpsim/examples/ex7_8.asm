; Exercise 7.8 -- fully connected layer, batch of 32, on the single-core DLP-S.
;
; Machine: dlp-s (1 GHz, 256 FP32 MACs/cycle, DRAM 64 B/cycle, NRAM 128 KB, WRAM 256 KB).
; Layer:   input 32x256, weights 256x128, output 32x128, all FP32.
; Data:    input   32*256*4  =  32768 B = 32 KB  (fits NRAM)
;          weights 256*128*4 = 131072 B = 128 KB (fits WRAM)
;          output  32*128*4  =  16384 B = 16 KB  (NRAM; 32 + 16 = 48 KB <= 128 KB)
;          MACs    32*256*128 = 1048576
; Tiling:  none; the whole layer fits on chip. Serial: load, sync, compute, sync, store.
; Layout:  DRAM  input   0x00000 .. 0x08000   weights 0x08000 .. 0x28000   output 0x28000 .. 0x2c000
;          NRAM  input   0x00000 .. 0x08000   output  0x08000 .. 0x0c000
;          WRAM  weights 0x00000 .. 0x20000   (all row-major)
;
; HAND ESTIMATE (contract rules, all transfers alone on the DRAM link, io queue in order):
;   load input    32768 / 64   =  512 cycles :    0 ..  512
;   load weights  131072 / 64  = 2048 cycles :  512 .. 2560
;   sync                                     : 2560
;   compute       1048576 / 256 = 4096 cycles: 2560 .. 6656
;   sync                                     : 6656
;   store output  16384 / 64   =  256 cycles : 6656 .. 6912
;   total         512 + 2048 + 4096 + 256 = 6912 cycles
; Roofline bound: compute 4096; DRAM (32768 + 131072 + 16384) / 64 = 2816 -> 4096.

.machine dlp-s

move DRAM[0x00000] NRAM[0x00000] 32*256*4      ; input neurons
move DRAM[0x08000] WRAM[0x00000] 256*128*4     ; weights
sync                                           ; the compute reads both
compute MAC_32 32x256x128 NRAM[0x00000], WRAM[0x00000] -> NRAM[0x08000]   ; the whole layer
sync                                           ; the store reads the result
move NRAM[0x08000] DRAM[0x28000] 32*128*4      ; output neurons
sync
