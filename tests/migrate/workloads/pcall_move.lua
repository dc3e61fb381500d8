-- pcall_move.lua GATEDIR [ROUNDS] — Lua moved while it runs inside protected
-- calls (t_isa_lua_move.sh).  Two phases, each inside a pcall whose
-- luaD_rawrunprotected frame (a setjmp) is on the stack when the program
-- moves; each phase waits at a gate (GATEDIR/go1, GATEDIR/go2: the test
-- creates them once the move is done, so the move happens mid-run, inside
-- the phase) and then raises an error that its pcall must catch: a longjmp
-- to a jmp_buf re-created by the rewind.  Every round also catches an error
-- of its own (pcall created after the move).  stdout is the same wherever
-- the rounds run; stderr names the host of each round ("@ " lines).
local dir, rounds = arg[1], tonumber(arg[2] or 12)
local host = function() return os.getenv("MOJAVE_HOST") or "-" end
local function collatz(n) -- total steps of 1..n to reach 1
  local total = 0
  for i = 1, n do
    local x = i
    while x ~= 1 do
      x = x % 2 == 0 and x // 2 or 3 * x + 1
      total = total + 1
    end
  end
  return total
end
local acc = 0
local function round(r)
  local c = collatz(3000 + r)
  local t = {}
  for i = 1, 500 do t[#t + 1] = string.format("%d:%d", r, (i * 7919 + c) % 1000) end
  table.sort(t)
  acc = (acc * 31 + c + #table.concat(t, ",")) % 1000000007
  local ok, e = pcall(function() error({round = r}) end)
  io.write(string.format("round %d steps %d acc %d %s/%s caught %s %d\n", r, c, acc, t[1], t[#t],
                         tostring(ok), e.round))
  io.stdout:flush()
  io.stderr:write(string.format("@ round %d on %s\n", r, host()))
end
-- waits (working, so that the loop polls) until the test creates the file
local function gate(name)
  io.stderr:write(string.format("@ %s waiting on %s\n", name, host()))
  while true do
    local f = io.open(dir .. "/" .. name)
    if f then f:close() break end
    collatz(200)
  end
  io.stderr:write(string.format("@ %s passed on %s\n", name, host()))
end
local function phase(name, first, last)
  for r = first, first + rounds // 2 - 1 do round(r) end
  gate(name)
  for r = first + rounds // 2, last do round(r) end
  error(string.format("%s raised after round %d, acc %d", name, last, acc))
end
print("phase 1:", pcall(phase, "go1", 1, rounds))
print("phase 2:", pcall(phase, "go2", rounds + 1, 2 * rounds))
local ok, e = pcall(function() local t = nil; return t.x end)
print("after both moves:", ok, e, acc)
-- not caught by the script: lua.c's own lua_pcall, on the stack since the
-- start, reports it (stderr, exit status 1)
error("uncaught at the end, acc " .. acc)
