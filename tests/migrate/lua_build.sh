# tests/migrate/lua_build.sh — Debian's Lua 5.4 built by mojcc (sourced by
# t_isa_lua.sh, t_isa_lua_move.sh).  Needs $MOJCC.
#   lua_source        prints the unpacked lua5.4 source package (fetched once
#                     into REALWORLD_CACHE) or fails: the caller skips
#   build_lua SRC DIR builds DIR/lua with mojcc -O2 for x86-64
lua_source() {
  local cache=${REALWORLD_CACHE:-/tmp/mojave-realworld} src
  mkdir -p "$cache"
  . "$(dirname "${BASH_SOURCE[0]}")/../realworld/sources.sh"
  src=$( (ensure_sources >/dev/null && fetch lua5.4) 2>/dev/null) || src=
  [ -n "$src" ] && [ -d "$src" ] && echo "$src"
}
build_lua() {
  mkdir -p "$2"
  cp "$1"/src/*.c "$1"/src/*.h "$2/"
  echo '#define DEB_HOST_MULTIARCH "x86_64-linux-gnu"' > "$2/lua5.4-deb-multiarch.h"
  (cd "$2" && "$MOJCC" -O2 -DLUA_USE_LINUX -DLUA_COMPAT_5_3 -I. $(ls *.c | grep -v '^luac.c$') -o lua -lm -ldl)
}
