// SPDX-License-Identifier: GPL-2.0-only
// libkmod opened on first use: the table kmod_shim.h's functions call through.
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

#include "kmod_shim.h"

struct vst_kmod_table vst_kmod_loaded;
static pthread_once_t once = PTHREAD_ONCE_INIT;
// dlerror()'s text, copied: its own buffer is freed by the thread's next dlerror().
static char error_text[512];

static void fail(void) {
  const char *e = dlerror();
  snprintf(error_text, sizeof(error_text), "%s", e ? e : "dlopen failed");
  vst_kmod_loaded.error = error_text;
}

static void load(void) {
  void *lib = dlopen("libkmod.so.2", RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    fail();
    return;
  }
#define X(name) \
  if (!(vst_kmod_loaded.name = (__typeof__(vst_linked_##name) *)dlsym(lib, #name))) { \
    fail(); \
    return; \
  }
  VST_KMOD_FUNCTIONS(X)
#undef X
}

const char *vst_kmod_open(void) {
  pthread_once(&once, load);
  return vst_kmod_loaded.error;
}
