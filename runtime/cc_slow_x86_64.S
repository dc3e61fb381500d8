/* runtime/cc_slow_x86_64.S — the write barrier's slow paths in the calling
 * convention mojcc's inline fast path uses for them in executables: LLVM's
 * preserve_most (every general register but r11 survives the call; vector
 * registers do not), so the cold block of each barrier is a move, a call and
 * a jump back, without spilling the caller's live values around the call.
 * Each entry saves the registers the C convention lets a callee clobber and
 * calls the C slow path (alloc.c, cc_support.c).  Shared objects built by
 * mojcc call the C functions: a lazy PLT binding may clobber r10. */
        .text

.macro MOJ_PRESERVE_MOST name, target
        .globl  \name
        .type   \name, @function
\name:
        .cfi_startproc
        pushq   %rcx
        .cfi_adjust_cfa_offset 8
        pushq   %rdx
        .cfi_adjust_cfa_offset 8
        pushq   %rsi
        .cfi_adjust_cfa_offset 8
        pushq   %rdi
        .cfi_adjust_cfa_offset 8
        pushq   %r8
        .cfi_adjust_cfa_offset 8
        pushq   %r9
        .cfi_adjust_cfa_offset 8
        pushq   %r10            /* seven pushes: the stack is 16-byte aligned */
        .cfi_adjust_cfa_offset 8
        call    \target@PLT
        popq    %r10
        .cfi_adjust_cfa_offset -8
        popq    %r9
        .cfi_adjust_cfa_offset -8
        popq    %r8
        .cfi_adjust_cfa_offset -8
        popq    %rdi
        .cfi_adjust_cfa_offset -8
        popq    %rsi
        .cfi_adjust_cfa_offset -8
        popq    %rdx
        .cfi_adjust_cfa_offset -8
        popq    %rcx
        .cfi_adjust_cfa_offset -8
        ret
        .cfi_endproc
        .size   \name, .-\name
.endm

/* The whole translation out of line, for code compiled at -O0
 * (passes/MojLower.cpp): inline, each access is three blocks, and -O0's
 * register allocator spills every value live across them; a call keeps the
 * access in one block.  Same steps as __moj_r / __moj_w (mojave/abi.h):
 * v raw -> v; handle -> base + offset, and for a write (slow given) only
 * when the entry's owner is the current level, else the slow path (a tail
 * jump: its entry is preserve_most too).  rax and r11 are the only
 * registers written, so the read is preserve_all (vector registers survive
 * too: no spill of a double around it) and the writes preserve_most.
 * void *__moj_cc_{r_pa,w_pm,ws_pm}(uint64_t v) */
.macro MOJ_TRANSLATE name, slow
        .globl  \name
        .type   \name, @function
\name:
        .cfi_startproc
        movq    %rdi, %rax
        testq   %rdi, %rdi
        jns     1f
        shrq    $32, %rax
        shlq    $4, %rax
        addq    _moj_tbl_h(%rip), %rax
.ifnb \slow
        movl    12(%rax), %r11d
        cmpl    _moj_cur_owner_h(%rip), %r11d
        jne     2f
.endif
        movq    (%rax), %rax
        movl    %edi, %r11d
        addq    %r11, %rax
1:      ret
.ifnb \slow
2:      jmp     \slow
.endif
        .cfi_endproc
        .size   \name, .-\name
.endm
        MOJ_TRANSLATE __moj_cc_r_pa
        MOJ_TRANSLATE __moj_cc_w_pm, __moj_cc_w_slow_pm
        MOJ_TRANSLATE __moj_cc_ws_pm, __moj_cc_w_soft_pm

/* void *__moj_cc_w_slow_pm(uint64_t h): __moj_w_slow, preserve_most */
        MOJ_PRESERVE_MOST __moj_cc_w_slow_pm, __moj_w_slow
/* void *__moj_cc_w_soft_pm(uint64_t h): __moj_cc_w_soft, preserve_most */
        MOJ_PRESERVE_MOST __moj_cc_w_soft_pm, __moj_cc_w_soft

        .section .note.GNU-stack,"",@progbits
