; Input of extcall-icall.ll: a module that defines no function.
@x = global i32 0
declare void @f(ptr)
