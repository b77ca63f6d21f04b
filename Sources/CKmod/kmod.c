// SPDX-License-Identifier: GPL-2.0-only
// libkmod opened on first use: the table kmod_shim.h's functions call through.
#include <dlfcn.h>
#include <pthread.h>

#include "kmod_shim.h"

struct vst_kmod_table vst_kmod_loaded;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void load(void) {
  void *lib = dlopen("libkmod.so.2", RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    vst_kmod_loaded.error = dlerror();
    return;
  }
#define X(name) \
  if (!(vst_kmod_loaded.name = (__typeof__(vst_linked_##name) *)dlsym(lib, #name))) { \
    vst_kmod_loaded.error = dlerror(); \
    return; \
  }
  VST_KMOD_FUNCTIONS(X)
#undef X
}

const char *vst_kmod_open(void) {
  pthread_once(&once, load);
  return vst_kmod_loaded.error;
}
