-- tests/realworld/workloads/workload.lua: deterministic Lua workload (tables, sort,
-- strings, closures, coroutines, errors through longjmp, GC, load); its output
-- under the mojcc build must equal the clang build's.
-- workload: tables, strings, closures, gc, coroutines, errors, string.format, sort
local t = {}
for i = 1, 200000 do t[i] = (i * 7919) % 100003 end
table.sort(t)
local s = 0
for i = 1, #t, 1000 do s = s + t[i] end
print("sorted", #t, s)
local words = {}
for w in ("the quick brown fox jumps over the lazy dog again and again"):gmatch("%a+") do
  words[#words + 1] = w:upper():rep(2)
end
print(table.concat(words, ","))
local function fib(n) if n < 2 then return n end return fib(n-1) + fib(n-2) end
print("fib", fib(25))
local co = coroutine.wrap(function(a) for i = 1, 3 do a = coroutine.yield(a * 2) end return a end)
print("co", co(1), co(5), co(7), co(9))
local ok, err = pcall(function() error({code = 42}) end)
print("pcall", ok, type(err), err.code)
local ok2, err2 = pcall(function() local x = nil; return x.y end)
print("pcall2", ok2, (err2:gsub("^.-:%d+: ", "")))
local m = {}
for i = 1, 50000 do m["k" .. i] = string.format("%05d-%s-%.3f", i, tostring(i % 3 == 0), i / 7) end
local cnt, len = 0, 0
for k, v in pairs(m) do cnt = cnt + 1; len = len + #v end
print("map", cnt, len, m.k123, m.k49999)
collectgarbage()
print("utf8", utf8.len("héllo wörld"), ("%q"):format("a\nb"))
local f = load("return function(x) return x * 3 end")()
print("load", f(14), select("#", 1, nil, 3))
print(string.pack and #string.pack("i4d", 7, 2.5), math.maxinteger // 3, 7 // 2, 7.0 // 2, 2^10)
