// SPDX-License-Identifier: GPL-2.0-only
import Foundation
import LibVFIO
import SystemPackage
import Testing

/// KernelModules and JournaledModules where no kernel is needed: an empty or hand-written
/// modules directory, the journal in a temporary root, and the error lines. What a kernel shows
/// (a dependency that fails to load, a module in use at cleanup, a built-in module) is checked
/// in the guest by `kernel_modules.*`.
@Suite("Kernel modules without a kernel")
struct KernelModulesTests {
  final class Directory {
    let path = FileManager.default.temporaryDirectory.path + "/libvfio-modules-\(UUID().uuidString)"
    init() throws { try FileManager.default.createDirectory(atPath: path + "/journal", withIntermediateDirectories: true) }
    deinit { try? FileManager.default.removeItem(atPath: path) }
    var journal: ResourceJournal { ResourceJournal(root: path + "/journal") }
  }

  @Test func builtInModulesAreReadFromModulesBuiltin() throws {
    let d = try Directory()
    try "kernel/arch/x86/events/rapl.ko\nkernel/drivers/vfio/pci/vfio-pci-core.ko\nkernel/fs/9p/9p.ko\n"
      .write(toFile: d.path + "/modules.builtin", atomically: true, encoding: .utf8)
    #expect(try KernelModules(directory: d.path).builtInModules() == ["rapl", "vfio_pci_core", "9p"])
    #expect(try KernelModules(directory: d.path + "/journal").builtInModules() == [])
  }

  /// A modprobe.d directory of the caller's own (the guest test puts a bad option there).
  @Test func aContextWithItsOwnConfiguration() throws {
    let d = try Directory()
    try "options vfio_pci enable_sriov=1\n".write(toFile: d.path + "/journal/x.conf", atomically: true, encoding: .utf8)
    let modules = try KernelModules(directory: d.path, configPaths: [d.path + "/journal"])
    #expect(modules.resolve("vfio-pci") == [])
    #expect(throws: VFIOError.moduleLoad(.notFound(module: "vfio-pci", directory: d.path))) { try modules.loadOrder("vfio-pci") }
    #expect(throws: VFIOError.moduleLoad(.invalidName("a/b"))) { try modules.loadOrder("a/b") }
    #expect(modules.holders("vfio_selftests_no_such_module") == [])
    #expect(modules.referenceCount("vfio_selftests_no_such_module") == nil)
    #expect(modules.info("vfio-pci", field: "parmtype") == [])
  }

  /// A load that cannot start journals nothing.
  @Test func aModuleThatIsNotThereIsNotJournaled() throws {
    let d = try Directory()
    let journaled = JournaledModules(modules: try KernelModules(directory: d.path), journal: d.journal)
    #expect(throws: VFIOError.moduleLoad(.notFound(module: "xe-vfio-pci", directory: d.path))) { try journaled.load("xe-vfio-pci") }
    #expect(d.journal.entries(.module) == [])
  }

  /// A journal entry for a module that is not loaded (a run on another kernel, a module someone
  /// else unloaded): nothing to unload, and the entry goes.
  @Test func aJournaledModuleThatIsNotLoaded() throws {
    let d = try Directory()
    try d.journal.record(.module, "vfio_selftests_no_such_module")
    let journaled = JournaledModules(modules: try KernelModules(directory: d.path), journal: d.journal)
    let results = journaled.unloadJournaled()
    #expect(results.count == 1 && results[0].module == "vfio_selftests_no_such_module" && results[0].result == .notLoaded)
    #expect(d.journal.entries(.module) == [])
  }

  @Test func errorLines() {
    #expect(KernelModules.LoadError.dependencyFailed(module: "xe-vfio-pci", dependency: "gpu_sched", path: "/lib/modules/7.3.4/kernel/drivers/gpu/drm/scheduler/gpu-sched.ko", errno: .invalidArgument).description
      == "module xe-vfio-pci: not loaded: its dependency gpu_sched (/lib/modules/7.3.4/kernel/drivers/gpu/drm/scheduler/gpu-sched.ko) failed to load: EINVAL (22): Invalid argument")
    #expect(KernelModules.LoadError.inUse(module: "xe", holders: ["xe_vfio_pci"], refcount: 1, errno: .resourceTemporarilyUnavailable).description
      == "module xe: in use, left loaded (held by xe_vfio_pci; refcount 1): delete_module failed: EAGAIN (11): Resource temporarily unavailable")
    #expect(KernelModules.LoadError.inUse(module: "vfio_iommu_type1", holders: [], refcount: 2, errno: .resourceTemporarilyUnavailable).description
      == "module vfio_iommu_type1: in use, left loaded (refcount 2): delete_module failed: EAGAIN (11): Resource temporarily unavailable")
    #expect(JournaledModules.Unloaded.heldBy(["drm_gpuvm", "xe"]).description == "left loaded: drm_gpuvm, xe, which hold it, could not be unloaded")
    #expect(JournaledModules.Unloaded.builtIn.description == "built in (nothing to unload)")
    #expect(VFIOError.moduleRollback(.moduleLoad(.dependencyFailed(module: "a", dependency: "b", path: nil, errno: .noSuchFileOrDirectory)), left: ["c"]).description
      == "module a: not loaded: its dependency b failed to load: ENOENT (2): No such file or directory; the modules it had loaded stay loaded: c (journaled: vfio-selftests cleanup)")
  }
}
