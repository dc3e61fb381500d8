-- long.lua — deterministic work with a progress line per round: the Lua
-- interpreter (built by mojcc from Debian's lua5.4) is migrated while it runs.
local function sieve(n)
  local is = {}
  for i = 2, n do is[i] = true end
  for i = 2, math.floor(math.sqrt(n)) do
    if is[i] then for j = i * i, n, i do is[j] = false end end
  end
  local c = 0
  for i = 2, n do if is[i] then c = c + 1 end end
  return c
end
local words = {}
local acc = 0
for round = 1, tonumber(arg[1] or 40) do
  local c = sieve(200000 + round)
  local t = {}
  for i = 1, 2000 do t[#t + 1] = string.format("%d:%d", round, (i * 7919 + c) % 1000) end
  table.sort(t)
  words[round] = t[1] .. "/" .. t[#t]
  acc = (acc * 31 + c + #table.concat(t, ",")) % 1000000007
  io.write(string.format("round %d primes %d acc %d %s\n", round, c, acc, words[round]))
  io.stdout:flush()
end
print("done", acc)
