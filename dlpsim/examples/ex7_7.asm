; Exercise 7.7 -- fully connected layer on the single-core DLP-S.
;
; Machine: dlp-s (1 GHz, 256 FP32 MACs/cycle, DRAM 64 GB/s = 64 B/cycle, no latencies).
; Layer:   input 1x256, weights 256x1, output 1x1, all FP32.
; Data:    input   1*256*4 = 1024 B   (NRAM)
;          weights 256*1*4 = 1024 B   (WRAM)
;          output  1*1*4   =    4 B   (NRAM -> DRAM)
;          MACs    1*256*1 =  256
; Tiling:  none; everything fits on chip.
; Layout:  DRAM  input   0x000 .. 0x400   weights 0x400 .. 0x800   output 0x800 .. 0x804
;          NRAM  input   0x000 .. 0x400   output  0x400 .. 0x404
;          WRAM  weights 0x000 .. 0x400
;
; HAND ESTIMATE (contract "Transfers" and "Compute"; this is the contract's worked example):
;   load input    io queue, ceil(1024 / 64) = 16 cycles     :  0 .. 16
;   load weights  io queue after the first, 1024 / 64 = 16 :  16 .. 32
;   sync          waits for both loads                      :  32
;   compute       ceil(256 / 256) = 1 cycle                 :  32 .. 33
;   sync                                                    :  33
;   store output  ceil(4 / 64) = 1 cycle                    :  33 .. 34
;   total         16 + 16 + 1 + 1 = 34 cycles = 34 ns
; Roofline bound: compute 256/256 = 1 cycle; DRAM ceil(2052 / 64) = 33 cycles -> 33.

.machine dlp-s

move DRAM[0x000] NRAM[0x000] 1024     ; input neurons, 1x256 FP32
move DRAM[0x400] WRAM[0x000] 1024     ; weights, 256x1 FP32
sync                                  ; the compute reads both
compute MAC_32 1x256x1 NRAM[0x000], WRAM[0x000] -> NRAM[0x400]   ; 256 multiply-accumulates
sync                                  ; the store reads the result
move NRAM[0x400] DRAM[0x800] 4        ; the single FP32 output neuron
sync
