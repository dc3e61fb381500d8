/* runtime/spec_aarch64.S — the register-level half of speculation (AAPCS64),
 * the twin of spec_x86_64.S with the same entry points: spec_enter saves the
 * callee-saved context like setjmp and hands it to C; _moj_resume jumps back
 * into it; _moj_on_stack runs the stack restore on a private stack;
 * _moj_copy_raw copies memory without sanitizer interception (the globals and
 * stack snapshots legitimately read redzones).  The moj_ctx_t layout
 * (internal.h) is x19-x28, fp, lr, sp, d8-d15, fpcr. */
#if !defined(__aarch64__)
#error "spec_aarch64.S is the aarch64 twin of spec_x86_64.S"
#endif
        .text

/* The callee-saved registers of a moj_ctx_t at \base, op stp or ldp; sp
 * (offset 96) and fpcr (168) move through a scratch register separately. */
.macro MOJ_CTX_REGS op, base
        \op     x19, x20, [\base, #0]
        \op     x21, x22, [\base, #16]
        \op     x23, x24, [\base, #32]
        \op     x25, x26, [\base, #48]
        \op     x27, x28, [\base, #64]
        \op     x29, x30, [\base, #80]
        \op     d8, d9, [\base, #104]
        \op     d10, d11, [\base, #120]
        \op     d12, d13, [\base, #136]
        \op     d14, d15, [\base, #152]
.endm

/* int spec_enter(void) — returns_twice.  Frame: 176 bytes holding a moj_ctx_t.
 * No red zone on aarch64 and the return address is in lr, so the caller's
 * frame starts exactly at sp on entry: that is the lowest byte to save. */
        .globl  spec_enter
        .type   spec_enter, %function
        .p2align 2
spec_enter:
        .cfi_startproc
        sub     sp, sp, #176
        .cfi_def_cfa_offset 176
        MOJ_CTX_REGS stp, sp
        .cfi_offset x29, -96
        .cfi_offset x30, -88
        add     x9, sp, #176            /* caller's sp after our ret */
        str     x9, [sp, #96]
        mrs     x9, fpcr                /* rounding mode: as mxcsr on x86-64 */
        str     x9, [sp, #168]
        mov     x0, sp
        add     x1, sp, #176
        bl      _moj_spec_enter_c
        ldr     x30, [sp, #88]          /* the bl above overwrote lr */
        add     sp, sp, #176
        .cfi_def_cfa_offset 0
        ret
        .cfi_endproc
        .size   spec_enter, .-spec_enter

/* void _moj_resume(const moj_ctx_t *ctx, int value) — noreturn */
        .globl  _moj_resume
        .hidden _moj_resume
        .type   _moj_resume, %function
        .p2align 2
_moj_resume:
        MOJ_CTX_REGS ldp, x0
        ldr     x9, [x0, #168]
        msr     fpcr, x9
        ldr     x9, [x0, #96]
        mov     sp, x9
        mov     w0, w1
        ret
        .size   _moj_resume, .-_moj_resume

/* void _moj_on_stack(void *stack_top, void (*fn)(void *), void *arg) — noreturn */
        .globl  _moj_on_stack
        .hidden _moj_on_stack
        .type   _moj_on_stack, %function
        .p2align 2
_moj_on_stack:
        and     sp, x0, #-16
        mov     x29, #0                 /* end of the frame chain: no caller to unwind into */
        mov     x0, x2
        blr     x1
        brk     #1
        .size   _moj_on_stack, .-_moj_on_stack

/* void _moj_copy_raw(void *dst, const void *src, size_t n): 16 bytes a step
 * (unaligned access is allowed on normal memory), then the tail bytewise. */
        .globl  _moj_copy_raw
        .hidden _moj_copy_raw
        .type   _moj_copy_raw, %function
        .p2align 2
_moj_copy_raw:
        cmp     x2, #16
        b.lo    2f
1:      ldp     x3, x4, [x1], #16
        stp     x3, x4, [x0], #16
        sub     x2, x2, #16
        cmp     x2, #16
        b.hs    1b
2:      cbz     x2, 4f
3:      ldrb    w3, [x1], #1
        strb    w3, [x0], #1
        subs    x2, x2, #1
        b.ne    3b
4:      ret
        .size   _moj_copy_raw, .-_moj_copy_raw

        .section .note.GNU-stack,"",%progbits
