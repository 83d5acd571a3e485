; Exercise 7.11 -- the layer of 7.8 on the four-core DLP-M.
;
; Machine: dlp-m (4 cores, each as dlp-s: 256 FP32 MACs/cycle, NRAM 128 KB, WRAM 256 KB;
;          SharedRAM 2 MB owned by the memory core; DRAM 128 GB/s = 128 B/cycle for the chip,
;          shared by every DRAM transfer; SharedRAM <-> each core 1 TB/s = 1000 B/cycle).
; Layer:   input 32x256, weights 256x128, output 32x128, all FP32; 1048576 MACs.
; Split:   output columns across the cores: core i computes out[:, 32i:32i+32].
;          Every core needs the whole input (32 KB): the memory core fetches it once into
;          SharedRAM and each core copies it over its own 1 TB/s link.
;          Each core loads only its weight slice W[:, 32i:32i+32] = 256*32*4 = 32 KB
;          (DRAM holds the weights slice-major, so a slice is one contiguous move).
; Data per core: input 32 KB + output 32*32*4 = 4 KB in NRAM, weights 32 KB in WRAM.
; Layout:  DRAM  input   0x00000 .. 0x08000   row-major 32x256
;                weights 0x08000 .. 0x28000   slice-major: slice i (256x32) at 0x8000 + 0x8000 * i
;                output  0x28000 .. 0x2c000   slice-major: core i's 32x32 at 0x28000 + 0x1000 * i
;          SharedRAM  input 0x00000 .. 0x08000
;          each core's NRAM  input 0x00000 .. 0x08000   output 0x08000 .. 0x09000
;          each core's WRAM  its weight slice 0x00000 .. 0x08000
;          The cores' DRAM addresses differ (each reads its own slice and writes its own output
;          block, which no other core touches), so those moves sit in per-core sections.
;
; HAND ESTIMATE (contract rules). All four cores run the same stream, so at every moment
; they do the same thing and equal transfers share the DRAM link equally.
;   mem: input DRAM -> SharedRAM, alone on the DRAM link: 32768 / 128 = 256   :    0 ..  256
;   barrier (every core waits for the input to be in SharedRAM)               :  256
;   cores: weight slices, 4 x 32768 B at once on DRAM: 4*32768/128 = 1024      :  256 .. 1280
;          meanwhile (move queue, own shared.i link) input SharedRAM -> NRAM:
;          ceil(32768 / 1000) = 33 cycles, hidden under the weight loads       :  256 ..  289
;   sync                                                                       : 1280
;   compute 32*256*32 / 256 = 1024                                             : 1280 .. 2304
;   sync
;   store 4 x 4096 B at once on DRAM: 4*4096/128 = 128                         : 2304 .. 2432
;   total  256 + 1024 + 1024 + 128 = 2432 cycles (one DLP-S, ex7_8: 6912)
; Roofline bound: compute 1048576 / 256 / 4 = 1024; DRAM (32768 + 131072 + 16384) / 128
;   = 1408 -> 1408 (DRAM-bound: the weights cannot be loaded faster than 1024 cycles).

.machine dlp-m

.core mem
move DRAM[0x00000] SharedRAM[0x00000] 32*256*4  ; the shared input, once for all cores
barrier                                         ; input ready

.core all
barrier                                         ; wait for the input in SharedRAM
.core 0
move DRAM[0x08000] WRAM[0x00000] 256*32*4       ; weight slice 0              (io)
.core 1
move DRAM[0x10000] WRAM[0x00000] 256*32*4       ; weight slice 1              (io)
.core 2
move DRAM[0x18000] WRAM[0x00000] 256*32*4       ; weight slice 2              (io)
.core 3
move DRAM[0x20000] WRAM[0x00000] 256*32*4       ; weight slice 3              (io)
.core all
move SharedRAM[0x00000] NRAM[0x00000] 32*256*4  ; the whole input, own link   (move)
sync                                            ; input and weights on chip
compute MAC_32 32x256x32 NRAM[0x00000], WRAM[0x00000] -> NRAM[0x08000]   ; 32 rows x 256 x 32 columns
sync                                            ; output done
.core 0
move NRAM[0x08000] DRAM[0x28000] 32*32*4        ; output columns 0:32
.core 1
move NRAM[0x08000] DRAM[0x29000] 32*32*4        ; output columns 32:64
.core 2
move NRAM[0x08000] DRAM[0x2a000] 32*32*4        ; output columns 64:96
.core 3
move NRAM[0x08000] DRAM[0x2b000] 32*32*4        ; output columns 96:128
.core all
sync
