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

/* void *__moj_cc_w_slow_pm(uint64_t h): __moj_w_slow, preserve_most */
        MOJ_PRESERVE_MOST __moj_cc_w_slow_pm, __moj_w_slow
/* void *__moj_cc_w_soft_pm(uint64_t h): __moj_cc_w_soft, preserve_most */
        MOJ_PRESERVE_MOST __moj_cc_w_soft_pm, __moj_cc_w_soft

        .section .note.GNU-stack,"",@progbits
