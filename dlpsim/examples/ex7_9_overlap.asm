; Exercise 7.9 -- the layer of ex7_9.asm, DOUBLE-BUFFERED so that DMA overlaps compute.
;
; Machine: dlp-s (1 GHz, 256 FP32 MACs/cycle, DRAM 64 B/cycle, NRAM 128 KB, WRAM 256 KB).
; Layer:   input 1024x256, weights 256x128, output 1024x128, all FP32.
; Data:    input 1 MB, weights 128 KB (loaded once into WRAM), output 512 KB; 33554432 MACs.
; Tiling:  32 tiles of 32 rows: input tile 32*256*4 = 32 KB, output tile 32*128*4 = 16 KB.
;          NRAM holds two input and two output buffers, used alternately (tile t uses buffer t%2):
;            IN0  0x00000 .. 0x08000   IN1  0x08000 .. 0x10000   (32 KB each)
;            OUT0 0x10000 .. 0x14000   OUT1 0x14000 .. 0x18000   (16 KB each)
;          96 KB <= 128 KB. The buffers alternate, so the loop body is two steps, an odd tile
;          (buffers 1) and an even tile (buffers 0): loop 15 covers steps 1 .. 30.
; Layout (all row-major; tile t = rows 32t .. 32t+31):
;   DRAM  input   0x000000 .. 0x100000   tile t at 0x8000 * t
;         weights 0x100000 .. 0x120000
;         output  0x120000 .. 0x1a0000   tile t at 0x120000 + 0x4000 * t
;   WRAM  W 0x00000 .. 0x20000 (128 KB)
; The loop's index k (`loop 15 as k`) moves the DRAM operands: iteration k loads input tiles
; 2k+2 and 2k+3 and stores outputs 2k and 2k+1; the NRAM buffers repeat. The program computes
; the whole product (tests/test_programs_compute.py checks it against x @ W).
; Schedule: step t = { load input t+1, store output t-1, compute tile t, sync }. The loads and
;          stores go to the io queue and the compute to the compute queue, so they overlap; the
;          sync closes the step, so tile t+1's data is in NRAM before step t+1 computes on it,
;          and output t-1 has left its buffer before step t+1 overwrites it.
;
; HAND ESTIMATE (contract rules; the io queue runs one transfer at a time, alone on the link):
;   prologue: weights 131072 / 64 = 2048, then input tile 0: 32768 / 64 = 512, sync
;                                                                   = 2560 cycles
;   step 0:   load tile 1 (512) || compute tile 0 (32*256*128 / 256 = 4096)   = 4096
;   steps 1..30 (loop 15 x 2): io = load 512 + store 16384 / 64 = 256 = 768 < 4096,
;             so each step is compute-bound                       = 30 * 4096
;   step 31:  store output 30 (256) || compute tile 31 (4096)       = 4096
;   epilogue: store output 31                                       =  256
;   total     2560 + 32 * 4096 + 256 = 133888 cycles
;             (serial ex7_9: 157696; compute bound 131072; efficiency 97.9 %)
; Roofline bound: compute 131072; DRAM (131072 + 1048576 + 524288) / 64 = 26624 -> 131072.

.machine dlp-s

; prologue: weights and the first input tile
move DRAM[0x100000] WRAM[0x00000] 256*128*4     ; all weights, once -> W
move DRAM[0x000000] NRAM[0x00000] 32*256*4      ; input tile 0 -> IN0
sync                                            ; W and IN0 complete

; step 0: nothing to store yet
move DRAM[0x008000] NRAM[0x08000] 32*256*4      ; input tile 1 -> IN1
compute MAC_32 32x256x128 NRAM[0x00000], WRAM[0x00000] -> NRAM[0x10000]   ; tile 0: IN0 x W -> OUT0
sync                                            ; IN1 complete, OUT0 done

; steps 1 .. 30, two per iteration: k = 0 .. 14 computes tiles 2k+1 and 2k+2
loop 15 as k
    ; odd step (tile 2k+1 in IN1): refill IN0, drain OUT0
    move DRAM[0x010000 + 0x10000*k] NRAM[0x00000] 32*256*4  ; input tile 2k+2 -> IN0
    move NRAM[0x10000] DRAM[0x120000 + 0x8000*k] 32*128*4   ; output tile 2k <- OUT0
    compute MAC_32 32x256x128 NRAM[0x08000], WRAM[0x00000] -> NRAM[0x14000]   ; IN1 x W -> OUT1
    sync                                        ; IN0 full, OUT0 free, OUT1 done
    ; even step (tile 2k+2 in IN0): refill IN1, drain OUT1
    move DRAM[0x018000 + 0x10000*k] NRAM[0x08000] 32*256*4  ; input tile 2k+3 -> IN1
    move NRAM[0x14000] DRAM[0x124000 + 0x8000*k] 32*128*4   ; output tile 2k+1 <- OUT1
    compute MAC_32 32x256x128 NRAM[0x00000], WRAM[0x00000] -> NRAM[0x10000]   ; IN0 x W -> OUT0
    sync                                        ; IN1 full, OUT1 free, OUT0 done
endloop

; step 31: no more input to load
move NRAM[0x10000] DRAM[0x198000] 32*128*4      ; output tile 30 <- OUT0
compute MAC_32 32x256x128 NRAM[0x08000], WRAM[0x00000] -> NRAM[0x14000]   ; tile 31: IN1 x W -> OUT1
sync

; epilogue
move NRAM[0x14000] DRAM[0x19c000] 32*128*4      ; output tile 31 <- OUT1
sync
