// SPDX-License-Identifier: GPL-2.0-only
// Module loading through LibVFIO's libkmod wrapper, on the running kernel: xe-vfio-pci (the
// migration driver the PCI suites need) with its dependencies, journaled so that
// `vfio-selftests cleanup` unloads what a run loaded and nothing that was loaded before; a
// dependency that fails to load; a module in use at cleanup; a built-in module. No C selftest
// covers this (C's setup.sh runs modprobe); the names follow the port's own suites.
import Foundation
import LibVFIO
import SystemPackage
import Testing

enum KernelModulesTest {
  static let xe = "xe-vfio-pci"

  /// The libkmod context of the running kernel, root, and xe-vfio-pci in it, else the skip; and
  /// never on a machine with a GPU that xe would probe (loading xe must touch no device).
  static func requireXeVFIOPCI() throws -> KernelModules {
    guard HostCapabilities().isRoot else { try Test.cancel("not root") }
    let modules: KernelModules
    do { modules = try KernelModules() } catch { try Test.cancel(Comment(rawValue: "libkmod: \(error)")) }
    guard modules.state(xe) != .notFound else {
      try Test.cancel(Comment(rawValue: "kernel has no xe-vfio-pci module (CONFIG_XE_VFIO_PCI) in \(modules.directory)"))
    }
    if modules.state(xe) == .builtIn { try Test.cancel("xe-vfio-pci is built into this kernel: nothing to load") }
    let sysfs = PCISysfs()
    if case .success(let names) = FileSystem.list("\(sysfs.paths.pciBus)/devices") {
      for a in names.compactMap(PCIAddress.init) {
        guard let alias = try? sysfs.modalias(a), modules.resolve(alias).contains("xe") else { continue }
        try Test.cancel(Comment(rawValue: "\(a) is a GPU the xe module drives: loading xe here would probe it (the module tests run where no device matches xe)"))
      }
    }
    try requireCleanJournal()
    return modules
  }

  /// The CLI and an empty module journal: the tests run `vfio-selftests cleanup`, which would
  /// also unload what an earlier, killed run journaled.
  static func requireCleanJournal() throws {
    if let missing = SelftestsCLI.missing { try Test.cancel(Comment(rawValue: missing)) }
    let left = journaled()
    if !left.isEmpty {
      try Test.cancel(Comment(rawValue: "the resource journal already lists modules (\(left.joined(separator: " "))): run vfio-selftests cleanup first"))
    }
  }

  /// The modules of the resource journal now.
  static func journaled() -> [String] { ResourceJournal().entries(.module) }

  /// Puts the module state back after a test that failed half-way: unloads what the journal
  /// lists (it was empty when the test began) and `extra` (modules the test loaded without
  /// journaling them), if not loaded before.
  static func restore(_ modules: KernelModules, before: Set<String>, extra: [String] = []) {
    let journal = JournaledModules(modules: modules)
    let stray = extra.flatMap(modules.resolve).filter { !before.contains($0) && modules.loadedModules().contains($0) }
    for m in stray { try? journal.journal.record(.module, m, "restore") }
    _ = journal.unloadJournaled()
  }

  static func parameterIsNumeric(_ type: Substring) -> Bool {
    ["int", "uint", "long", "ulong", "short", "ushort", "byte", "bool", "invbool", "ullong", "hexint"].contains(type)
  }
}

extension Hardware {
  @Suite("kernel_modules.xe_vfio_pci", .hangGuard)
  struct KernelModulesXeVFIOPCI {
    /// A journaled load (as the suites load modules): xe-vfio-pci and every module it needs
    /// are live; the journal lists exactly the modules that were not loaded before; then
    /// `vfio-selftests cleanup --keep-devices` unloads those and only those.
    @Test func load_then_cleanup() throws {
      let modules = try KernelModulesTest.requireXeVFIOPCI()
      let before = modules.loadedModules()
      defer { KernelModulesTest.restore(modules, before: before) }
      let order = try modules.loadOrder(KernelModulesTest.xe)
      print("xe-vfio-pci load order: \(order.joined(separator: " ")); loaded before: \(order.filter(before.contains).joined(separator: " "))")

      let loaded = try JournaledModules(modules: modules).load(KernelModulesTest.xe)
      print("loaded: \(loaded.brought.joined(separator: " ")) (\(loaded.outcome.rawValue))")
      #expect(loaded.outcome == .loaded)
      let after = modules.loadedModules()
      for m in order { #expect(modules.state(m) == .live || modules.state(m) == .builtIn, "\(m) (xe-vfio-pci needs it): \(modules.state(m).rawValue)") }
      #expect(after.contains("xe_vfio_pci") && after.contains("xe"))
      #expect(Set(loaded.brought) == after.subtracting(before), "brought \(loaded.brought), new since the load: \(after.subtracting(before).sorted())")
      #expect(Set(KernelModulesTest.journaled()) == Set(loaded.brought), "journal: \(KernelModulesTest.journaled())")
      #expect(KernelModulesTest.journaled().filter(before.contains).isEmpty, "a module loaded before the run is journaled")
      // In load order: each module after every module it needs (those it holds).
      for (i, m) in loaded.brought.enumerated() {
        for holder in modules.holders(m) where loaded.brought.contains(holder) {
          #expect(loaded.brought.firstIndex(of: holder)! > i, "\(holder) holds \(m) but was listed before it")
        }
      }

      let r = try SelftestsCLI.run(["cleanup", "--keep-devices"])
      #expect(r.status == 0, "\(r)")
      #expect(r.stderr.isEmpty, "\(r)")
      for m in loaded.brought { #expect(r.stdout.contains("module \(m): unloaded (a suite had loaded it)"), "\(m): \(r.stdout)") }
      #expect(modules.loadedModules() == before, "loaded now: \(modules.loadedModules().sorted()), before: \(before.sorted())")
      #expect(KernelModulesTest.journaled() == [])
    }

    /// A dependency of xe-vfio-pci that refuses to load (init_module EINVAL: a bad value for one
    /// of its parameters, given in a modprobe.d directory of the test's own): the error names
    /// xe-vfio-pci, the dependency and the errno, and the dependencies libkmod had loaded
    /// before it are unloaded again.
    @Test func dependency_fails_to_load() throws {
      let modules = try KernelModulesTest.requireXeVFIOPCI()
      let before = modules.loadedModules()
      defer { KernelModulesTest.restore(modules, before: before) }
      let order = try modules.loadOrder(KernelModulesTest.xe)
      let candidates = order.filter { $0 != "xe_vfio_pci" && modules.state($0) == .notLoaded }
      var pick: (module: String, parameter: String)?
      for m in candidates where pick == nil {
        for p in modules.info(m, field: "parmtype") {
          let parts = p.split(separator: ":", maxSplits: 1)
          if parts.count == 2, KernelModulesTest.parameterIsNumeric(parts[1]) { pick = (m, String(parts[0])); break }
        }
      }
      guard let pick else {
        try Test.cancel(Comment(rawValue: "no dependency of xe-vfio-pci that is not loaded yet has a numeric parameter (candidates: \(candidates.joined(separator: " ")))"))
      }
      let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vfio-selftests-modprobe.d-\(UUID().uuidString)").path
      try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
      defer { try? FileManager.default.removeItem(atPath: dir) }
      try "options \(pick.module) \(pick.parameter)=not-a-number\n".write(toFile: dir + "/bad-parameter.conf", atomically: true, encoding: .utf8)
      print("\(pick.module).\(pick.parameter)=not-a-number (\(dir)/bad-parameter.conf); load order: \(order.joined(separator: " "))")

      let journaled = JournaledModules(modules: try KernelModules(configPaths: [dir]))
      let error = #expect(throws: VFIOError.self) { try journaled.load(KernelModulesTest.xe) }
      print("error: \(error.map(\.description) ?? "none")")
      guard case .moduleLoad(.dependencyFailed(let module, let dependency, _, let errno))? = error else {
        Issue.record("expected the dependency \(pick.module) to be named: \(String(describing: error))"); return
      }
      #expect(module == KernelModulesTest.xe)
      #expect(dependency == pick.module)
      #expect(errno == .invalidArgument)
      #expect(error!.description.hasPrefix("module xe-vfio-pci: not loaded: its dependency \(pick.module) ("))
      #expect(error!.description.hasSuffix("failed to load: EINVAL (22): Invalid argument"))
      #expect(modules.loadedModules() == before, "left loaded: \(modules.loadedModules().subtracting(before).sorted())")
      #expect(KernelModulesTest.journaled() == [], "journal: \(KernelModulesTest.journaled())")
    }

    /// The run loaded xe (journaled); then the user loaded xe-vfio-pci (not journaled, as
    /// `vfio-selftests modprobe` loads), which holds it. `cleanup` cannot unload xe: one error
    /// line naming xe, its holder and the errno; xe and what it needs stay loaded and
    /// journaled; cleanup exits 1. Once xe-vfio-pci is gone, the journal's modules go.
    @Test func in_use_at_cleanup() throws {
      let modules = try KernelModulesTest.requireXeVFIOPCI()
      let before = modules.loadedModules()
      defer { KernelModulesTest.restore(modules, before: before, extra: [KernelModulesTest.xe]) }
      let loaded = try JournaledModules(modules: modules).load("xe")
      #expect(loaded.brought.last == "xe", "\(loaded.brought)")

      // The user's load: not journaled (as `vfio-selftests modprobe` loads).
      #expect(try modules.load(KernelModulesTest.xe) == .loaded)
      #expect(modules.holders("xe") == ["xe_vfio_pci"])

      let r = try SelftestsCLI.run(["cleanup", "--keep-devices"])
      #expect(r.status == 1, "\(r)")
      let errors = r.stderr.split(separator: "\n")
      #expect(errors.count == 1, "\(r)")
      #expect(errors.first?.hasPrefix("vfio-selftests: error: module xe: in use, left loaded (held by xe_vfio_pci; refcount ") == true, "\(r)")
      #expect(errors.first?.hasSuffix("delete_module failed: EAGAIN (11): Resource temporarily unavailable") == true, "\(r)")
      #expect(modules.state("xe") == .live)
      // What xe needs stays too, each line naming the journaled holders that stayed (xe, and
      // for drm_exec also drm_gpuvm, which xe holds).
      let lines = r.stdout.split(separator: "\n")
      for m in loaded.brought where m != "xe" {
        let line = lines.first { $0.hasPrefix("module \(m): left loaded: ") }
        #expect(line?.hasSuffix("could not be unloaded; kept in the journal") == true && line?.contains("xe") == true, "\(m): \(r)")
      }
      #expect(Set(KernelModulesTest.journaled()) == Set(loaded.brought), "journal: \(KernelModulesTest.journaled())")

      // Once the user's module is gone, the journal's go.
      #expect(try modules.unload(KernelModulesTest.xe) == .unloaded)
      let again = JournaledModules(modules: modules).unloadJournaled()
      #expect(again.allSatisfy { $0.result == .unloaded }, "\(again)")
      #expect(modules.loadedModules() == before, "left loaded: \(modules.loadedModules().subtracting(before).sorted())")
      #expect(KernelModulesTest.journaled() == [])
    }
  }

  @Suite("kernel_modules.built_in", .hangGuard)
  struct KernelModulesBuiltIn {
    /// A module of modules.builtin: `modprobe` says it is built in, a journaled load journals
    /// nothing, and a journal entry for it (a run on a kernel where it was a module) is dropped
    /// by `cleanup`, which leaves the module as it is.
    @Test func modprobe_and_cleanup_leave_it() throws {
      guard HostCapabilities().isRoot else { try Test.cancel("not root") }
      try KernelModulesTest.requireCleanJournal()
      let modules = try KernelModules()
      guard let builtIn = modules.builtInModules().first(where: { modules.state($0) == .builtIn }) else {
        try Test.cancel(Comment(rawValue: "no built-in module listed in \(modules.directory)/modules.builtin"))
      }
      defer { ResourceJournal().forget(.module, builtIn) }

      let r = try SelftestsCLI.run(["modprobe", builtIn])
      #expect(r.status == 0 && r.stdout == "\(builtIn): built in\n" && r.stderr.isEmpty, "\(r)")
      let loaded = try JournaledModules(modules: modules).load(builtIn)
      #expect(loaded == JournaledModules.Loaded(outcome: .builtIn, brought: []))
      #expect(KernelModulesTest.journaled() == [])

      try ResourceJournal().record(.module, builtIn, "built_in test")
      let c = try SelftestsCLI.run(["cleanup", "--keep-devices"])
      #expect(c.status == 0 && c.stderr.isEmpty, "\(c)")
      #expect(c.stdout.contains("module \(builtIn): built in (nothing to unload); journal entry removed"), "\(c)")
      #expect(modules.state(builtIn) == .builtIn)
      #expect(KernelModulesTest.journaled() == [])
    }
  }
}
