/* migrate/image_print.c — the text dump of an image (mojave-image inspect):
 * every section, one record a line, strings escaped (they are untrusted). */
#include "image_int.h"

/* ======================================================================
 * Text dump
 * ====================================================================== */

/* Quoted, with anything that could drive a terminal escaped: the strings come
 * from an untrusted image. */
static void pstr(FILE *f, const char *s) {
  fputc('"', f);
  for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
    if (*p == '"' || *p == '\\') fprintf(f, "\\%c", *p);
    else if (*p == '\n') fputs("\\n", f);
    else if (*p == '\t') fputs("\\t", f);
    else if (*p < 0x20 || *p >= 0x7f) fprintf(f, "\\x%02x", *p);
    else fputc(*p, f);
  }
  fputc('"', f);
}

static void pfixed(FILE *f, const char *a, size_t width) {
  char tmp[161];
  size_t n = strnlen(a, width < sizeof tmp - 1 ? width : sizeof tmp - 1);
  memcpy(tmp, a, n);
  tmp[n] = 0;
  pstr(f, tmp);
}

static void phex(FILE *f, const uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i++) fprintf(f, "%02x", p[i]);
}

#define SUMMARY_BYTES 16
/* "N bytes [first bytes...]", or with show_bytes a full hex dump on the
 * following lines (offset, 16 bytes, printable ASCII). */
static void pbytes(FILE *f, const uint8_t *p, uint64_t n, int show) {
  fprintf(f, "%llu bytes", (unsigned long long)n);
  if (!n || !p) { fputc('\n', f); return; }
  if (!show) {
    size_t k = n < SUMMARY_BYTES ? (size_t)n : SUMMARY_BYTES;
    fputs(" [", f);
    for (size_t i = 0; i < k; i++) fprintf(f, i ? " %02x" : "%02x", p[i]);
    fputs(n > k ? " ...]\n" : "]\n", f);
    return;
  }
  fputc('\n', f);
  for (uint64_t off = 0; off < n; off += 16) {
    size_t k = n - off < 16 ? (size_t)(n - off) : 16;
    fprintf(f, "    %08llx ", (unsigned long long)off);
    for (size_t i = 0; i < 16; i++) {
      if (i < k) fprintf(f, " %02x", p[off + i]);
      else fputs("   ", f);
    }
    fputs("  |", f);
    for (size_t i = 0; i < k; i++) fputc(p[off + i] >= 0x20 && p[off + i] < 0x7f ? p[off + i] : '.', f);
    fputs("|\n", f);
  }
}

static const char *rlimit_name(uint32_t r) {
  static const char *const n[NRLIMITS] = {"CPU", "FSIZE", "DATA", "STACK", "CORE", "RSS", "NPROC", "NOFILE",
                                          "MEMLOCK", "AS", "LOCKS", "SIGPENDING", "MSGQUEUE", "NICE", "RTPRIO", "RTTIME"};
  return r < NRLIMITS ? n[r] : "?";
}

static void print_meta(FILE *f, const moj_img_t *m) {
  const moj_img_meta_t *mt = &m->meta;
  fprintf(f, "META mode=%s arch=", mt->mode == MOJ_IMG_BINARY ? "binary" : mt->mode == MOJ_IMG_IR ? "ir" : "?");
  pfixed(f, mt->arch, sizeof mt->arch);
  fputs(" datalayout=", f);
  pfixed(f, mt->datalayout, sizeof mt->datalayout);
  const moj_img_abi_t *a = &mt->abi;
  fprintf(f, "\nMETA abi pointer=%u %s-endian char=%s long_double=%s va_list=%s heap_align=%u max_align=%u",
          a->ptr_bytes, a->big_endian ? "big" : "little", a->char_signed ? "signed" : "unsigned",
          a->long_double == MOJ_LD_X87_80 ? "x87-80" : a->long_double == MOJ_LD_IEEE128 ? "binary128" : "binary64",
          a->va_list == MOJ_VA_SYSV_X86_64 ? "sysv-x86-64" : a->va_list == MOJ_VA_AAPCS64 ? "aapcs64" : "other",
          1u << a->heap_align_log2, 1u << a->max_align_log2);
  fputs("\nMETA exe_path=", f);
  pstr(f, mt->exe_path);
  fputs(" cwd=", f);
  pstr(f, mt->cwd);
  fputs("\nMETA exe_hash=", f);
  phex(f, mt->exe_hash, 32);
  fputs(" bc_hash=", f);
  phex(f, mt->bc_hash, 32);
  fputs("\nMETA src_host=", f);
  pfixed(f, mt->src_host, sizeof mt->src_host);
  fprintf(f, " src_pid=%llu time_ns=%llu hops=%u argc=%u envc=%u rlimits=%u\n", (unsigned long long)mt->src_pid,
          (unsigned long long)mt->time_ns, mt->hops, mt->argc, mt->envc, mt->nrlimits);
  for (uint32_t i = 0; i < mt->argc && mt->argv; i++) {
    fprintf(f, "META argv[%u]=", i);
    pstr(f, mt->argv[i]);
    fputc('\n', f);
  }
  for (uint32_t i = 0; i < mt->envc && mt->envp; i++) {
    fprintf(f, "META envp[%u]=", i);
    pstr(f, mt->envp[i]);
    fputc('\n', f);
  }
  for (uint32_t i = 0; i < mt->nrlimits && mt->rlimits; i++)
    fprintf(f, "META rlimit[%u] resource=%u (%s) cur=%llu max=%llu\n", i, mt->rlimits[i].resource,
            rlimit_name(mt->rlimits[i].resource), (unsigned long long)mt->rlimits[i].cur,
            (unsigned long long)mt->rlimits[i].max);
}

static void print_frames(FILE *f, const moj_img_t *m, int show) {
  fprintf(f, "FRAMES count=%u\n", m->nframes);
  for (uint32_t i = 0; i < m->nframes && m->frames; i++) {
    const moj_img_frame_t *fr = &m->frames[i];
    fprintf(f, "FRAMES [%u] func=", i);
    pstr(f, fr->func);
    fprintf(f, " site=%u slots=%u allocas=%u\n", fr->site, fr->nslots, fr->nallocas);
    for (uint32_t j = 0; j < fr->nslots && fr->slots; j++) {
      const moj_img_slot_t *s = &fr->slots[j];
      fprintf(f, "FRAMES [%u] slot[%u] %s data=", i, j, s->type <= MOJ_SLOT_BYTES ? slot_names[s->type] : "?");
      pbytes(f, s->data, s->size, show);
    }
    for (uint32_t j = 0; j < fr->nallocas && fr->allocas; j++) {
      const moj_img_alloca_t *a = &fr->allocas[j];
      fprintf(f, "FRAMES [%u] alloca[%u] align=%u data=", i, j, a->align);
      pbytes(f, a->data, a->size, show);
    }
  }
}

static void print_relocs(FILE *f, const moj_img_t *m) {
  fprintf(f, "RELOCS count=%u\n", m->nrelocs);
  for (uint32_t i = 0; i < m->nrelocs && m->relocs; i++) {
    const moj_img_reloc_t *r = &m->relocs[i];
    fprintf(f, "RELOCS [%u] at %s ", i, where_name(r->where));
    if (r->where == MOJ_AT_HEAP) fprintf(f, "#%u", r->where_id);
    else if (r->where == MOJ_AT_GLOBAL) fprintf(f, "%u", r->where_id);
    else fprintf(f, "frame %u %s %u", r->where_id, r->where == MOJ_AT_SLOT ? "slot" : "alloca", r->where_sub);
    fprintf(f, " +%llu -> ", (unsigned long long)r->where_off);
    if (r->target == MOJ_TO_SYM) {
      fprintf(f, "SYM %u ", r->tid);
      pstr(f, r->tid < m->nsyms && m->syms ? m->syms[r->tid] : "?");
    } else if (r->target == MOJ_TO_STACK) {
      fprintf(f, "STACK frame %u alloca %u", r->tid, r->tsub);
    } else if (r->target == MOJ_TO_HEAP) {
      fprintf(f, "HEAP #%u", r->tid);
    } else if (r->target == MOJ_TO_FILE) {
      fprintf(f, "FILE %u (stream of fd %d)", r->tid, r->tid < m->nfiles && m->files ? m->files[r->tid].fd : -1);
    } else {
      fprintf(f, "target %u (?)", r->target);
    }
    fprintf(f, " %+lld\n", (long long)r->toff);
  }
}

void moj_img_print(const moj_img_t *m, void *FILE_out, int show_bytes) {
  FILE *f = FILE_out;
  if (!m || !f) return;
  print_meta(f, m);
  fprintf(f, "SYMS count=%u\n", m->nsyms);
  for (uint32_t i = 0; i < m->nsyms && m->syms; i++) {
    fprintf(f, "SYMS [%u] ", i);
    pstr(f, m->syms[i]);
    fputc('\n', f);
  }
  uint64_t heap = 0;
  for (uint32_t i = 0; i < m->nobjs && m->objs; i++) heap += m->objs[i].size;
  fprintf(f, "TABLE top=%u objects=%u bytes=%llu\n", m->table_top, m->nobjs, (unsigned long long)heap);
  for (uint32_t i = 0; i < m->nobjs && m->objs; i++) {
    const moj_img_obj_t *o = &m->objs[i];
    fprintf(f, "HEAP [#%u] align_log2=%u data=", o->index, o->align_log2);
    pbytes(f, o->data, o->size, show_bytes);
  }
  fprintf(f, "GLOBALS count=%u\n", m->nglobals);
  for (uint32_t i = 0; i < m->nglobals && m->globals; i++) {
    fprintf(f, "GLOBALS [%u] ", i);
    pstr(f, m->globals[i].name);
    fputs(" data=", f);
    pbytes(f, m->globals[i].data, m->globals[i].size, show_bytes);
  }
  print_frames(f, m, show_bytes);
  print_relocs(f, m);
  fprintf(f, "FILES count=%u\n", m->nfiles);
  for (uint32_t i = 0; i < m->nfiles && m->files; i++) {
    const moj_img_file_t *fl = &m->files[i];
    fprintf(f, "FILES [%u] fd=%d kind=%s flags=0x%x fd_flags=0x%x offset=%llu path=", i, fl->fd,
            fl->kind == MOJ_FILE_REGULAR ? "regular" : fl->kind == MOJ_FILE_STDIO ? "stdio" : "?",
            (unsigned)fl->flags, (unsigned)fl->fd_flags, (unsigned long long)fl->offset);
    pstr(f, fl->path);
    fputc('\n', f);
  }
  fprintf(f, "DSM shm=%u semundo=%u\n", m->nshm, m->nsemundo);
  for (uint32_t i = 0; i < m->nshm && m->shm; i++)
    fprintf(f, "DSM shm[%u] shmid=%d key=0x%x shmflg=0%o addr=0x%llx size=%llu\n", i, m->shm[i].shmid,
            (unsigned)m->shm[i].key, (unsigned)m->shm[i].shmflg, (unsigned long long)m->shm[i].addr,
            (unsigned long long)m->shm[i].size);
  for (uint32_t i = 0; i < m->nsemundo && m->semundo; i++)
    fprintf(f, "DSM semundo[%u] semid=%d num=%u adj=%d\n", i, m->semundo[i].semid, m->semundo[i].num,
            m->semundo[i].adj);
  fputs("STDIO stdin=", f);
  pbytes(f, m->stdio.stdin_data, m->stdio.stdin_len, show_bytes);
  fputs("STDIO stdout=", f);
  pbytes(f, m->stdio.out_data, m->stdio.out_len, show_bytes);
  fputs("STDIO stderr=", f);
  pbytes(f, m->stdio.err_data, m->stdio.err_len, show_bytes);
}

