// SPDX-License-Identifier: GPL-2.0-only
// libkmod, opened on first use (dlopen) instead of linked. A linked libkmod is loaded and relocated
// by every process that links LibVFIO, with libcrypto, libzstd and liblzma behind it, whether or
// not it loads a module: under QEMU's TCG that was 34 ms a process (docs/benchmark.md), paid by
// the CLI and the test binary on every run. Only KernelModules (Sources/LibVFIO/KernelModules.swift)
// calls libkmod: its init calls vst_kmod_open() (kmod.c) first, and each function below then calls
// libkmod's own through the pointer dlsym found. A system without libkmod runs everything but the
// module loading, which fails with dlerror()'s text.
#ifndef VST_CKMOD_SHIM_H
#define VST_CKMOD_SHIM_H

#include <stdbool.h>
#include <stddef.h>

// libkmod's declarations under other names, so that nothing here refers to libkmod's symbols
// (the static inline functions below take the names).
#define VST_KMOD_FUNCTIONS(X) \
  X(kmod_list_next) X(kmod_module_get_dependencies) X(kmod_module_get_holders) \
  X(kmod_module_get_info) X(kmod_module_get_initstate) X(kmod_module_get_module) \
  X(kmod_module_get_name) X(kmod_module_get_path) X(kmod_module_get_refcnt) \
  X(kmod_module_get_softdeps) X(kmod_module_info_free_list) X(kmod_module_info_get_key) \
  X(kmod_module_info_get_value) X(kmod_module_new_from_loaded) X(kmod_module_new_from_lookup) \
  X(kmod_module_new_from_name) X(kmod_module_probe_insert_module) X(kmod_module_remove_module) \
  X(kmod_module_unref) X(kmod_module_unref_list) X(kmod_new) X(kmod_set_log_priority) X(kmod_unref)

#define kmod_list_next vst_linked_kmod_list_next
#define kmod_module_get_dependencies vst_linked_kmod_module_get_dependencies
#define kmod_module_get_holders vst_linked_kmod_module_get_holders
#define kmod_module_get_info vst_linked_kmod_module_get_info
#define kmod_module_get_initstate vst_linked_kmod_module_get_initstate
#define kmod_module_get_module vst_linked_kmod_module_get_module
#define kmod_module_get_name vst_linked_kmod_module_get_name
#define kmod_module_get_path vst_linked_kmod_module_get_path
#define kmod_module_get_refcnt vst_linked_kmod_module_get_refcnt
#define kmod_module_get_softdeps vst_linked_kmod_module_get_softdeps
#define kmod_module_info_free_list vst_linked_kmod_module_info_free_list
#define kmod_module_info_get_key vst_linked_kmod_module_info_get_key
#define kmod_module_info_get_value vst_linked_kmod_module_info_get_value
#define kmod_module_new_from_loaded vst_linked_kmod_module_new_from_loaded
#define kmod_module_new_from_lookup vst_linked_kmod_module_new_from_lookup
#define kmod_module_new_from_name vst_linked_kmod_module_new_from_name
#define kmod_module_probe_insert_module vst_linked_kmod_module_probe_insert_module
#define kmod_module_remove_module vst_linked_kmod_module_remove_module
#define kmod_module_unref vst_linked_kmod_module_unref
#define kmod_module_unref_list vst_linked_kmod_module_unref_list
#define kmod_new vst_linked_kmod_new
#define kmod_set_log_priority vst_linked_kmod_set_log_priority
#define kmod_unref vst_linked_kmod_unref
#include <libkmod.h>
#undef kmod_list_next
#undef kmod_module_get_dependencies
#undef kmod_module_get_holders
#undef kmod_module_get_info
#undef kmod_module_get_initstate
#undef kmod_module_get_module
#undef kmod_module_get_name
#undef kmod_module_get_path
#undef kmod_module_get_refcnt
#undef kmod_module_get_softdeps
#undef kmod_module_info_free_list
#undef kmod_module_info_get_key
#undef kmod_module_info_get_value
#undef kmod_module_new_from_loaded
#undef kmod_module_new_from_lookup
#undef kmod_module_new_from_name
#undef kmod_module_probe_insert_module
#undef kmod_module_remove_module
#undef kmod_module_unref
#undef kmod_module_unref_list
#undef kmod_new
#undef kmod_set_log_priority
#undef kmod_unref

// The pointers dlsym found (kmod.c), typed as libkmod declares each function.
struct vst_kmod_table {
  const char *error;  // NULL once every function was found
#define X(name) __typeof__(vst_linked_##name) *name;
  VST_KMOD_FUNCTIONS(X)
#undef X
};
extern struct vst_kmod_table vst_kmod_loaded;

/// Opens libkmod.so.2 and finds its functions, once per process: NULL when every one was found,
/// else dlerror()'s text (no function below may be called then).
const char *vst_kmod_open(void);

// libkmod's functions by their own names, each a call through its pointer.
static inline struct kmod_list *kmod_list_next(const struct kmod_list *list, const struct kmod_list *curr) {
  return vst_kmod_loaded.kmod_list_next(list, curr);
}
static inline struct kmod_list *kmod_module_get_dependencies(const struct kmod_module *mod) {
  return vst_kmod_loaded.kmod_module_get_dependencies(mod);
}
static inline struct kmod_list *kmod_module_get_holders(const struct kmod_module *mod) {
  return vst_kmod_loaded.kmod_module_get_holders(mod);
}
static inline int kmod_module_get_info(const struct kmod_module *mod, struct kmod_list **list) {
  return vst_kmod_loaded.kmod_module_get_info(mod, list);
}
static inline int kmod_module_get_initstate(const struct kmod_module *mod) {
  return vst_kmod_loaded.kmod_module_get_initstate(mod);
}
static inline struct kmod_module *kmod_module_get_module(const struct kmod_list *entry) {
  return vst_kmod_loaded.kmod_module_get_module(entry);
}
static inline const char *kmod_module_get_name(const struct kmod_module *mod) {
  return vst_kmod_loaded.kmod_module_get_name(mod);
}
static inline const char *kmod_module_get_path(const struct kmod_module *mod) {
  return vst_kmod_loaded.kmod_module_get_path(mod);
}
static inline int kmod_module_get_refcnt(const struct kmod_module *mod) {
  return vst_kmod_loaded.kmod_module_get_refcnt(mod);
}
static inline int kmod_module_get_softdeps(const struct kmod_module *mod, struct kmod_list **pre, struct kmod_list **post) {
  return vst_kmod_loaded.kmod_module_get_softdeps(mod, pre, post);
}
static inline void kmod_module_info_free_list(struct kmod_list *list) {
  vst_kmod_loaded.kmod_module_info_free_list(list);
}
static inline const char *kmod_module_info_get_key(const struct kmod_list *entry) {
  return vst_kmod_loaded.kmod_module_info_get_key(entry);
}
static inline const char *kmod_module_info_get_value(const struct kmod_list *entry) {
  return vst_kmod_loaded.kmod_module_info_get_value(entry);
}
static inline int kmod_module_new_from_loaded(struct kmod_ctx *ctx, struct kmod_list **list) {
  return vst_kmod_loaded.kmod_module_new_from_loaded(ctx, list);
}
static inline int kmod_module_new_from_lookup(struct kmod_ctx *ctx, const char *given_alias, struct kmod_list **list) {
  return vst_kmod_loaded.kmod_module_new_from_lookup(ctx, given_alias, list);
}
static inline int kmod_module_new_from_name(struct kmod_ctx *ctx, const char *name, struct kmod_module **mod) {
  return vst_kmod_loaded.kmod_module_new_from_name(ctx, name, mod);
}
static inline int kmod_module_probe_insert_module(struct kmod_module *mod, unsigned int flags, const char *extra_options,
    int (*run_install)(struct kmod_module *m, const char *cmdline, void *data), const void *data,
    void (*print_action)(struct kmod_module *m, bool install, const char *options)) {
  return vst_kmod_loaded.kmod_module_probe_insert_module(mod, flags, extra_options, run_install, data, print_action);
}
static inline int kmod_module_remove_module(struct kmod_module *mod, unsigned int flags) {
  return vst_kmod_loaded.kmod_module_remove_module(mod, flags);
}
static inline struct kmod_module *kmod_module_unref(struct kmod_module *mod) {
  return vst_kmod_loaded.kmod_module_unref(mod);
}
static inline int kmod_module_unref_list(struct kmod_list *list) {
  return vst_kmod_loaded.kmod_module_unref_list(list);
}
static inline struct kmod_ctx *kmod_new(const char *dirname, const char *const *config_paths) {
  return vst_kmod_loaded.kmod_new(dirname, config_paths);
}
static inline void kmod_set_log_priority(struct kmod_ctx *ctx, int priority) {
  vst_kmod_loaded.kmod_set_log_priority(ctx, priority);
}
static inline struct kmod_ctx *kmod_unref(struct kmod_ctx *ctx) {
  return vst_kmod_loaded.kmod_unref(ctx);
}

#endif
