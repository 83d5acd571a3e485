; fc_1024x256.asm -- the showcase: the fully connected layer of exercise 7.9, double-buffered
; with explicit ping-pong buffers, scheduled to come within 1.3 % of the compute bound.
;
; Machine: dlp-s (1 GHz, 256 FP32 MACs/cycle, DRAM 64 B/cycle, NRAM 128 KB, WRAM 256 KB).
; Layer:   out[1024x128] = in[1024x256] x W[256x128], all FP32.
; Data:    input 1024*256*4 = 1 MB, weights 256*128*4 = 128 KB, output 1024*128*4 = 512 KB;
;          1024*256*128 = 33554432 MACs.
;
; Why overlap matters. The MAC array needs 33554432 / 256 = 131072 cycles; the DRAM traffic
; needs (1 MB + 128 KB + 512 KB) / 64 B = 26624 cycles. Done one after the other
; (ex7_9.asm) that is 157696 cycles. The ISA gives each core an io queue (DMA) and a compute
; queue that run at the same time, and nothing orders them except `sync`. So while the MAC
; array works on tile t, the io queue can already fetch tile t+1 and write back tile t-1,
; provided they live in different NRAM buffers. `sync` at the end of each step is the only
; hand-off: after it, the fetched tile is complete and the written-back buffer is free.
;
; Tiling: 32 tiles of 32 rows. Input tile 32*256*4 = 32 KB, output tile 32*128*4 = 16 KB.
;   NRAM (128 KB)                         WRAM (256 KB)
;     IN_A   0x00000 .. 0x08000  32 KB      W_LO 0x00000 .. 0x10000  64 KB  W[:, 0:64]
;     IN_B   0x08000 .. 0x10000  32 KB      W_HI 0x10000 .. 0x20000  64 KB  W[:, 64:128]
;     OUT_A  0x10000 .. 0x14000  16 KB
;     OUT_B  0x14000 .. 0x18000  16 KB    (each OUT buffer holds its tile as two column
;     free   0x18000 .. 0x20000  32 KB     halves of 8 KB: [0:64] then [64:128])
;   DRAM (tile t = rows 32t .. 32t+31)
;     input   0x000000 .. 0x100000  row-major, tile t at 0x8000 * t
;     weights 0x100000 .. 0x120000  W_LO (0x100000) then W_HI (0x110000), each 256x64 row-major,
;                                   so each half is one contiguous move
;     output  0x120000 .. 0x1a0000  tile t at 0x120000 + 0x4000 * t, as its OUT buffer holds it:
;                                   columns 0:64 (8 KB) then columns 64:128 (8 KB)
;   Even tiles use A, odd tiles use B; the main loop's body is one B tile and one A tile.
;   W is held as two 256x64 halves and OUT as two 32x64 halves, so a full-width step is two
;   32x256x64 MACs, IN x W_LO -> OUT[0:64] then IN x W_HI -> OUT[64:128]: 2 x 2048 cycles, the
;   4096 of one 32x256x128 MAC. The loop's index k (`loop 15 as k`) moves the DRAM operands:
;   iteration k loads tiles 2k+2, 2k+3 and stores outputs 2k, 2k+1, so the program computes the
;   whole product (tests/test_programs_compute.py checks it against x @ W).
;
; Two tricks shorten the unavoidable fill and drain of the pipeline:
;   fill:  the first compute needs tile 0 and *some* weights, not all of them. Loading only
;          W_LO (half the weights) first lets tile 0's left half start after 1024 + 512
;          cycles instead of 2048 + 512; W_HI streams in behind it.
;   drain: the last tile is computed in two column halves, so the left half of its output is
;          written back while the right half is still being computed.
;
; HAND ESTIMATE (contract rules; the io queue moves one transfer at a time, alone on the
; DRAM link; each step lasts as long as its slowest queue):
;   F1 load W_LO 65536/64 = 1024, then tile 0 -> IN_A 32768/64 = 512, sync     = 1536
;   F2 compute tile 0 x W_LO: 32*256*64/256 = 2048 || load W_HI 1024           = 2048
;   F3 compute tile 0 x W_HI: 2048 || load tile 1 -> IN_B 512                  = 2048
;   main loop, 15 iterations x 2 steps (tiles 1..30), each step:
;      compute 32*256*128/256 = 4096 || load next tile 512 + store previous 16384/64 = 256
;      io 768 < 4096, so compute-bound                                       = 30 * 4096
;   D1 compute tile 31 x W_LO 2048 || store output 30 (256)                    = 2048
;   D2 compute tile 31 x W_HI 2048 || store left half of output 31 8192/64 = 128 = 2048
;   D3 store right half of output 31 8192/64                                  =  128
;   total  1536 + 2048 + 2048 + 30*4096 + 2048 + 2048 + 128 = 132736 cycles
;        = compute bound 131072 + exposed fill 1536 + exposed drain 128 (efficiency 98.75 %).
; Roofline bound: compute 131072; DRAM (131072 + 1048576 + 524288) / 64 = 26624 -> 131072.
; The remaining 1664 cycles are the bytes that must arrive before the first MAC and leave
; after the last; splitting the weights and the last tile finer shrinks them further, at the
; price of more instructions (quarters would give 131072 + 1024 + 64).

.machine dlp-s

; ---- fill ------------------------------------------------------------------------------
; F1: the first half of the weights and input tile 0 (io queue, back to back).
move DRAM[0x100000] WRAM[0x00000] 256*64*4      ; W_LO
move DRAM[0x000000] NRAM[0x00000] 32*256*4      ; tile 0 -> IN_A
sync                                            ; W_LO and IN_A complete

; F2: tile 0, left output columns, while the second half of the weights arrives.
move DRAM[0x110000] WRAM[0x10000] 256*64*4      ; W_HI          (io)
compute MAC_32 32x256x64 NRAM[0x00000], WRAM[0x00000] -> NRAM[0x10000]    ; IN_A x W_LO -> OUT_A[0:64]
sync                                            ; W_HI complete

; F3: tile 0, right output columns, while tile 1 arrives in the other buffer.
move DRAM[0x008000] NRAM[0x08000] 32*256*4      ; tile 1 -> IN_B    (io)
compute MAC_32 32x256x64 NRAM[0x00000], WRAM[0x10000] -> NRAM[0x12000]    ; IN_A x W_HI -> OUT_A[64:128]
sync                                            ; IN_B complete, OUT_A done

; ---- steady state: ping-pong -----------------------------------------------------------
; Iteration k computes tiles 2k+1 (buffers B) and 2k+2 (buffers A), k = 0 .. 14.
loop 15 as k
    ; B step: compute from IN_B into OUT_B; meanwhile refill IN_A, drain OUT_A.
    move DRAM[0x010000 + 0x10000*k] NRAM[0x00000] 32*256*4  ; tile 2k+2 -> IN_A      (io)
    move NRAM[0x10000] DRAM[0x120000 + 0x8000*k] 32*128*4   ; output 2k <- OUT_A     (io)
    compute MAC_32 32x256x64 NRAM[0x08000], WRAM[0x00000] -> NRAM[0x14000]   ; IN_B x W_LO -> OUT_B[0:64]
    compute MAC_32 32x256x64 NRAM[0x08000], WRAM[0x10000] -> NRAM[0x16000]   ; IN_B x W_HI -> OUT_B[64:128]
    sync                                        ; IN_A full, OUT_A free, OUT_B done

    ; A step: the mirror image.
    move DRAM[0x018000 + 0x10000*k] NRAM[0x08000] 32*256*4  ; tile 2k+3 -> IN_B      (io)
    move NRAM[0x14000] DRAM[0x124000 + 0x8000*k] 32*128*4   ; output 2k+1 <- OUT_B   (io)
    compute MAC_32 32x256x64 NRAM[0x00000], WRAM[0x00000] -> NRAM[0x10000]   ; IN_A x W_LO -> OUT_A[0:64]
    compute MAC_32 32x256x64 NRAM[0x00000], WRAM[0x10000] -> NRAM[0x12000]   ; IN_A x W_HI -> OUT_A[64:128]
    sync                                        ; IN_B full, OUT_B free, OUT_A done
endloop

; ---- drain -----------------------------------------------------------------------------
; Tile 31 sits in IN_B; output 30 in OUT_A.
; D1: left half of tile 31 while output 30 leaves.
move NRAM[0x10000] DRAM[0x198000] 32*128*4      ; output 30 <- OUT_A         (io)
compute MAC_32 32x256x64 NRAM[0x08000], WRAM[0x00000] -> NRAM[0x14000]    ; IN_B x W_LO -> OUT_B[0:64]
sync                                            ; OUT_B[0:64] done

; D2: right half of tile 31 while the left half of its output leaves.
move NRAM[0x14000] DRAM[0x19c000] 32*64*4       ; output 31, columns 0:64    (io)
compute MAC_32 32x256x64 NRAM[0x08000], WRAM[0x10000] -> NRAM[0x16000]    ; IN_B x W_HI -> OUT_B[64:128]
sync                                            ; OUT_B[64:128] done

; D3: the last 8 KB.
move NRAM[0x16000] DRAM[0x19e000] 32*64*4       ; output 31, columns 64:128
sync
