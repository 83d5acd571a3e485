; Exercise 7.9 -- the layer of ex7_9.asm, DOUBLE-BUFFERED so that DMA overlaps compute.
;
; Machine: dlp-s (1 GHz, 256 FP32 MACs/cycle, DRAM 64 B/cycle, NRAM 128 KB, WRAM 256 KB).
; Layer:   input 1024x256, weights 256x128, output 1024x128, all FP32.
; Data:    input 1 MB, weights 128 KB (loaded once into WRAM), output 512 KB; 33554432 MACs.
; Tiling:  32 tiles of 32 rows: input tile 32*256*4 = 32 KB, output tile 32*128*4 = 16 KB.
;          NRAM holds two input and two output buffers, used alternately (tile t uses buffer t%2):
;            IN0  0x00000 .. 0x08000   IN1  0x08000 .. 0x10000   (32 KB each)
;            OUT0 0x10000 .. 0x14000   OUT1 0x14000 .. 0x18000   (16 KB each)
;          96 KB <= 128 KB. The loop body handles one tile, so its operands are written
;          without offsets (the buffer alternates each iteration; timing depends only on sizes);
;          fc_1024x256.asm writes the same idea with explicit A/B addresses.
; Schedule: step t = { load input t+1, store output t-1, compute tile t, sync }. The loads and
;          stores go to the io queue and the compute to the compute queue, so they overlap; the
;          sync closes the step, so tile t+1's data is in NRAM before step t+1 computes on it,
;          and output t-1 has left its buffer before step t+1 overwrites it.
;
; HAND ESTIMATE (contract rules; the io queue runs one transfer at a time, alone on the link):
;   prologue: weights 131072 / 64 = 2048, then input tile 0: 32768 / 64 = 512, sync
;                                                                   = 2560 cycles
;   step 0:   load tile 1 (512) || compute tile 0 (32*256*128 / 256 = 4096)   = 4096
;   steps 1..30 (loop 30): io = load 512 + store 16384 / 64 = 256 = 768 < 4096,
;             so each step is compute-bound                       = 30 * 4096
;   step 31:  store output 30 (256) || compute tile 31 (4096)       = 4096
;   epilogue: store output 31                                       =  256
;   total     2560 + 32 * 4096 + 256 = 133888 cycles
;             (serial ex7_9: 157696; compute bound 131072; efficiency 97.9 %)
; Roofline bound: compute 131072; DRAM (131072 + 1048576 + 524288) / 64 = 26624 -> 131072.

.machine dlp-s

; prologue: weights and the first input tile
move DRAM WRAM 256*128*4            ; all weights, once
move DRAM NRAM 32*256*4             ; input tile 0 -> IN0
sync

; step 0: nothing to store yet
move DRAM NRAM 32*256*4             ; input tile 1 -> IN1
compute MAC_32 32*256*128           ; tile 0: IN0 x W -> OUT0
sync

; steps 1 .. 30
loop 30
    move DRAM NRAM 32*256*4         ; input tile t+1 -> IN[(t+1)%2]
    move NRAM DRAM 32*128*4         ; output tile t-1 <- OUT[(t-1)%2]
    compute MAC_32 32*256*128       ; tile t: IN[t%2] x W -> OUT[t%2]
    sync
endloop

; step 31: no more input to load
move NRAM DRAM 32*128*4             ; output tile 30 <- OUT0
compute MAC_32 32*256*128           ; tile 31: IN1 x W -> OUT1
sync

; epilogue
move NRAM DRAM 32*128*4             ; output tile 31 <- OUT1
sync
