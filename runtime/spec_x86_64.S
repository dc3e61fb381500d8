/* runtime/spec_x86_64.S — the register-level half of speculation (x86-64 SysV):
 * spec_enter saves the callee-saved context like setjmp and hands it to C;
 * _moj_resume jumps back into it; _moj_on_stack runs the stack restore on a
 * private stack; _moj_copy_raw copies memory without sanitizer interception
 * (the globals and stack snapshots legitimately read redzones). */
#if !defined(__x86_64__)
#error "mojave's speculation support is x86-64 only for now"
#endif
        .text

/* int spec_enter(void) — returns_twice. Frame: 88 bytes holding a moj_ctx_t. */
        .globl  spec_enter
        .type   spec_enter, @function
spec_enter:
        .cfi_startproc
        subq    $88, %rsp
        .cfi_adjust_cfa_offset 88
        movq    %rbx, 0(%rsp)
        movq    %rbp, 8(%rsp)
        movq    %r12, 16(%rsp)
        movq    %r13, 24(%rsp)
        movq    %r14, 32(%rsp)
        movq    %r15, 40(%rsp)
        leaq    96(%rsp), %rax          /* caller's rsp after our ret */
        movq    %rax, 48(%rsp)
        movq    88(%rsp), %rax          /* return address */
        movq    %rax, 56(%rsp)
        stmxcsr 64(%rsp)
        fnstcw  68(%rsp)
        movq    %rsp, %rdi
        leaq    88(%rsp), %rsi          /* lowest caller byte: the return slot */
        call    _moj_spec_enter_c
        addq    $88, %rsp
        .cfi_adjust_cfa_offset -88
        ret
        .cfi_endproc
        .size   spec_enter, .-spec_enter

/* void _moj_resume(const moj_ctx_t *ctx, int value) — noreturn */
        .globl  _moj_resume
        .hidden _moj_resume
        .type   _moj_resume, @function
_moj_resume:
        movq    0(%rdi), %rbx
        movq    8(%rdi), %rbp
        movq    16(%rdi), %r12
        movq    24(%rdi), %r13
        movq    32(%rdi), %r14
        movq    40(%rdi), %r15
        ldmxcsr 64(%rdi)
        fldcw   68(%rdi)
        movq    48(%rdi), %rsp
        movl    %esi, %eax
        jmpq    *56(%rdi)
        .size   _moj_resume, .-_moj_resume

/* void _moj_on_stack(void *stack_top, void (*fn)(void *), void *arg) — noreturn */
        .globl  _moj_on_stack
        .hidden _moj_on_stack
        .type   _moj_on_stack, @function
_moj_on_stack:
        movq    %rdi, %rsp
        andq    $-16, %rsp
        movq    %rdx, %rdi
        callq   *%rsi
        ud2
        .size   _moj_on_stack, .-_moj_on_stack

/* void _moj_copy_raw(void *dst, const void *src, size_t n) */
        .globl  _moj_copy_raw
        .hidden _moj_copy_raw
        .type   _moj_copy_raw, @function
_moj_copy_raw:
        movq    %rdx, %rcx
        rep movsb
        ret
        .size   _moj_copy_raw, .-_moj_copy_raw

        .section .note.GNU-stack,"",@progbits
