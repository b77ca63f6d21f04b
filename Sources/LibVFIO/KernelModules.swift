// SPDX-License-Identifier: GPL-2.0-only
import CKmod
import SystemPackage

/// Loads kernel modules by name with their dependencies through libkmod (no modprobe), the way
/// the selftests' setup needs vfio-pci, vfio_iommu_type1, iommufd, xe-vfio-pci and mtty.
@safe public final class KernelModules {
  /// What loading a module found.
  public enum LoadOutcome: String, Sendable, Equatable {
    case loaded = "loaded"
    case alreadyLoaded = "already loaded"
    case builtIn = "built in"
  }

  /// The state of a module right now.
  public enum State: String, Sendable, Equatable {
    case builtIn = "built in"
    case live = "loaded"
    case coming = "loading"
    case going = "unloading"
    case notLoaded = "not loaded"
    case notFound = "not found"
  }

  /// Why loading or unloading a module failed: the kind of a `VFIOError.moduleLoad`.
  public enum LoadError: Equatable, CustomStringConvertible, Sendable {
    /// Not something modprobe could take as a module name or alias.
    case invalidName(String)
    /// libkmod could not be opened (it is loaded on first use, not linked): dlerror()'s text.
    case libkmodUnavailable(String)
    /// No module or built-in of that name (or alias) for this kernel.
    case notFound(module: String, directory: String)
    /// The kernel refused (not root, or module loading disabled).
    case notPermitted(module: String, errno: Errno)
    /// Any other failure from libkmod or init_module.
    case failed(module: String, operation: String, errno: Errno)
    /// `module` was not loaded because `dependency` (a module it needs, by modules.dep or a soft
    /// dependency) failed to load: libkmod reports the errno against `module` alone.
    case dependencyFailed(module: String, dependency: String, path: String?, errno: Errno)
    /// delete_module refused: other modules hold `module` (`holders`), or something holds a
    /// reference to it (`refcount`), such as an open file or a bound device.
    case inUse(module: String, holders: [String], refcount: Int?, errno: Errno)

    public var description: String {
      switch self {
      case .invalidName(let m): "invalid module name '\(m)': expected a module name or alias (not empty, no '/', no whitespace)"
      case .libkmodUnavailable(let why): "libkmod: \(why) (install libkmod2 or your distribution's equivalent)"
      case .notFound(let m, let dir): "module \(m): not found (no such module or built-in in \(dir))"
      case .notPermitted(let m, let e): "module \(m): not permitted (\(Errno.name(of: e)): \(e)); loading modules needs root"
      case .failed(let m, let op, let e): "module \(m): \(op) failed: \(Errno.name(of: e)) (\(e.rawValue)): \(e)"
      case .dependencyFailed(let m, let dep, let path, let e):
        "module \(m): not loaded: its dependency \(dep)\(path.map { " (\($0))" } ?? "") failed to load: \(Errno.name(of: e)) (\(e.rawValue)): \(e)"
      case .inUse(let m, let holders, let refcount, let e):
        "module \(m): in use, left loaded (" + (holders.isEmpty ? "" : "held by \(holders.joined(separator: ", ")); ")
          + "refcount \(refcount.map(String.init) ?? "unknown")): delete_module failed: \(Errno.name(of: e)) (\(e.rawValue)): \(e)"
      }
    }
  }

  /// What unloading a module found.
  public enum UnloadOutcome: String, Sendable, Equatable {
    case unloaded = "unloaded"
    case notLoaded = "not loaded"
    case builtIn = "built in"
  }

  private let context: OpaquePointer
  /// The modules directory libkmod reads, `/lib/modules/$(uname -r)` by default.
  public let directory: String

  /// Opens a libkmod context for `directory` (default: the running kernel's modules) with the
  /// modprobe.d configuration read from `configPaths` (default: the system's, as modprobe reads
  /// it; options given on the kernel command line apply either way).
  public init(directory: String? = nil, configPaths: [String]? = nil) throws(VFIOError) {
    // libkmod is opened here, the first time a process needs it (Sources/CKmod/include/kmod_shim.h).
    if let why = unsafe vst_kmod_open() { throw .moduleLoad(.libkmodUnavailable(unsafe String(cString: why))) }
    let dir = directory ?? "/lib/modules/\(Self.kernelRelease())"
    let ctx: OpaquePointer?
    if let configPaths {
      let copies = unsafe configPaths.map { path in
        let c = Array(path.utf8CString)
        let p = UnsafeMutablePointer<CChar>.allocate(capacity: c.count)
        unsafe p.initialize(from: c, count: c.count)
        return unsafe p
      }
      defer { for unsafe p in unsafe copies { unsafe p.deallocate() } }
      var argv = unsafe copies.map { unsafe UnsafePointer($0) } + [nil]
      unsafe ctx = unsafe argv.withUnsafeMutableBufferPointer { unsafe kmod_new(dir, $0.baseAddress) }
    } else {
      unsafe ctx = unsafe kmod_new(dir, nil)
    }
    guard let ctx = unsafe ctx else {
      throw .moduleLoad(.failed(module: "-", operation: "kmod_new(\(dir))", errno: .noMemory))
    }
    // Failures are this type's errors, each one line; libkmod's own log (stderr) stays quiet.
    unsafe kmod_set_log_priority(ctx, 2 /* LOG_CRIT, <syslog.h> */)
    unsafe context = ctx
    self.directory = dir
  }

  deinit { unsafe _ = kmod_unref(context) }

  /// `uname -r`.
  public static func kernelRelease() -> String {
    Syscalls.kernelRelease()
  }

  /// Resolves `name` (a module name or alias; `-` and `_` are equivalent) to libkmod modules.
  private func lookup(_ name: String) throws(VFIOError) -> [OpaquePointer] {
    var list: OpaquePointer?
    let r = unsafe kmod_module_new_from_lookup(context, name, &list)
    guard r >= 0 else { throw .moduleLoad(.failed(module: name, operation: "kmod_module_new_from_lookup", errno: Errno(rawValue: -r))) }
    return unsafe Self.takeModules(list)
  }

  /// The modules of a libkmod list, each referenced once; the list itself is released.
  private static func takeModules(_ list: OpaquePointer?) -> [OpaquePointer] {
    guard let list = unsafe list else { return unsafe [] }
    defer { unsafe _ = kmod_module_unref_list(list) }
    var modules: [OpaquePointer] = unsafe []
    var it: OpaquePointer? = unsafe list
    while let node = unsafe it {
      if let m = unsafe kmod_module_get_module(node) { unsafe modules.append(m) }
      unsafe it = unsafe kmod_list_next(list, node)
    }
    return unsafe modules
  }

  private static func release(_ modules: [OpaquePointer]) {
    for unsafe m in unsafe modules { unsafe _ = kmod_module_unref(m) }
  }

  /// The module's name as the kernel spells it (`xe_vfio_pci`).
  private static func name(of module: OpaquePointer) -> String {
    guard let p = unsafe kmod_module_get_name(module) else { return "?" }
    return unsafe String(cString: p)
  }

  /// Calls `body` with the module named exactly `name` (loaded or not, known to this directory or
  /// not; `-` and `_` are equivalent).
  private func withModule<R>(named name: String, _ body: (OpaquePointer) -> R) -> R? {
    var m: OpaquePointer?
    guard unsafe kmod_module_new_from_name(context, name, &m) >= 0, let m = unsafe m else { return nil }
    defer { unsafe _ = kmod_module_unref(m) }
    return unsafe body(m)
  }

  private static func state(of module: OpaquePointer) -> State {
    let s = unsafe kmod_module_get_initstate(module)
    switch s {
    case Int32(KMOD_MODULE_BUILTIN.rawValue): return .builtIn
    case Int32(KMOD_MODULE_LIVE.rawValue): return .live
    case Int32(KMOD_MODULE_COMING.rawValue): return .coming
    case Int32(KMOD_MODULE_GOING.rawValue): return .going
    default: return .notLoaded
    }
  }

  /// The state of `name` (module name or alias).
  public func state(_ name: String) -> State {
    guard let modules = unsafe try? lookup(name), unsafe !modules.isEmpty else { return .notFound }
    defer { unsafe Self.release(modules) }
    let states = unsafe modules.map(Self.state(of:))
    if states.contains(.builtIn) { return .builtIn }
    if states.contains(.live) { return .live }
    return states.first ?? .notFound
  }

  /// The module names `name` (a module name or alias) resolves to, as the kernel spells them:
  /// `xe-vfio-pci` is `xe_vfio_pci`; a device's `vfio_pci:v...` alias gives every VFIO driver
  /// for it. Empty when nothing matches.
  public func resolve(_ name: String) -> [String] {
    guard let modules = unsafe try? lookup(name) else { return [] }
    defer { unsafe Self.release(modules) }
    return unsafe modules.map(Self.name(of:))
  }

  /// Every module loading `name` brings in, in the order libkmod loads them: for each module,
  /// its soft dependencies named `pre:`, its dependencies (modules.dep), the module, then its
  /// `post:` soft dependencies. Each once; built-in ones included (they have no dependencies).
  public func loadOrder(_ name: String) throws(VFIOError) -> [String] {
    try Self.validate(name)
    let modules = unsafe try lookup(name)
    guard unsafe !modules.isEmpty else { throw .moduleLoad(.notFound(module: name, directory: directory)) }
    defer { unsafe Self.release(modules) }
    var order: [String] = []
    var seen: Set<String> = []
    for unsafe m in unsafe modules { unsafe Self.appendLoadOrder(m, &order, &seen) }
    return order
  }

  private static func appendLoadOrder(_ module: OpaquePointer, _ order: inout [String], _ seen: inout Set<String>) {
    let name = unsafe name(of: module)
    guard seen.insert(name).inserted else { return }
    var pre: OpaquePointer?, post: OpaquePointer?
    _ = unsafe kmod_module_get_softdeps(module, &pre, &post)
    let preModules = unsafe takeModules(pre), postModules = unsafe takeModules(post)
    defer { unsafe release(preModules); unsafe release(postModules) }
    for unsafe m in unsafe preModules { unsafe appendLoadOrder(m, &order, &seen) }
    // libkmod's list is already in load order (modules.dep lists a module's dependencies so
    // that, reversed, each comes after those it needs, and libkmod reverses it).
    let deps = unsafe takeModules(kmod_module_get_dependencies(module))
    defer { unsafe release(deps) }
    for unsafe d in unsafe deps { unsafe appendLoadOrder(d, &order, &seen) }
    order.append(name)
    for unsafe m in unsafe postModules { unsafe appendLoadOrder(m, &order, &seen) }
  }

  /// The modules loaded now (`/proc/modules`), by name.
  public func loadedModules() -> Set<String> {
    var list: OpaquePointer?
    guard unsafe kmod_module_new_from_loaded(context, &list) >= 0 else { return [] }
    let modules = unsafe Self.takeModules(list)
    defer { unsafe Self.release(modules) }
    return Set(unsafe modules.map(Self.name(of:)))
  }

  /// The loaded modules that hold `module` (`/sys/module/<module>/holders`): those that use it.
  public func holders(_ module: String) -> [String] {
    unsafe withModule(named: module) { m in
      let holders = unsafe Self.takeModules(kmod_module_get_holders(m))
      defer { unsafe Self.release(holders) }
      return unsafe holders.map(Self.name(of:)).sorted()
    } ?? []
  }

  /// The reference count of a loaded module (`/sys/module/<module>/refcnt`), nil when unknown.
  public func referenceCount(_ module: String) -> Int? {
    unsafe withModule(named: module) { m in
      let n = unsafe kmod_module_get_refcnt(m)
      return n >= 0 ? Int(n) : nil
    } ?? nil
  }

  /// The values of one modinfo field of `name` (`parmtype` gives `name:type` per parameter).
  public func info(_ name: String, field: String) -> [String] {
    guard let modules = unsafe try? lookup(name) else { return [] }
    defer { unsafe Self.release(modules) }
    var out: [String] = []
    for unsafe m in unsafe modules {
      var list: OpaquePointer?
      guard unsafe kmod_module_get_info(m, &list) >= 0, let list = unsafe list else { continue }
      defer { unsafe kmod_module_info_free_list(list) }
      var it: OpaquePointer? = unsafe list
      while let node = unsafe it {
        if let k = unsafe kmod_module_info_get_key(node), unsafe String(cString: k) == field, let v = unsafe kmod_module_info_get_value(node) {
          unsafe out.append(String(cString: v))
        }
        unsafe it = unsafe kmod_list_next(list, node)
      }
    }
    return out
  }

  /// The modules built into this kernel (`modules.builtin` of the directory), by name.
  public func builtInModules() -> [String] {
    guard case .success(let text) = FileSystem.read("\(directory)/modules.builtin") else { return [] }
    return text.split(separator: "\n").map { line in
      var base = Substring(FileSystem.basename(String(line)))
      if let dot = base.firstIndex(of: ".") { base = base[..<dot] }
      return String(base.map { $0 == "-" ? "_" : $0 })
    }
  }

  /// Whether `name` can be a module name or alias: not empty, no path separator, no whitespace
  /// or control characters (libkmod would otherwise look up something no module can be called).
  public static func validate(_ name: String) throws(VFIOError) {
    guard !name.isEmpty, !name.unicodeScalars.contains(where: { $0 == "/" || $0.value <= 0x20 || $0.value == 0x7f }) else {
      throw .moduleLoad(.invalidName(name))
    }
  }

  /// Loads `name` and its dependencies (module options from modprobe.d and the kernel command
  /// line apply, as with modprobe). When a dependency fails, the error names it; the
  /// dependencies loaded before it stay loaded (libkmod does not unload them:
  /// `JournaledModules.load` does).
  @discardableResult
  public func load(_ name: String) throws(VFIOError) -> LoadOutcome {
    try Self.validate(name)
    let modules = unsafe try lookup(name)
    guard unsafe !modules.isEmpty else { throw .moduleLoad(.notFound(module: name, directory: directory)) }
    defer { unsafe Self.release(modules) }
    var outcome: LoadOutcome = .alreadyLoaded
    for unsafe m in unsafe modules {
      switch unsafe Self.state(of: m) {
      case .builtIn:
        if outcome == .alreadyLoaded { outcome = .builtIn }
        continue
      case .live, .coming:
        continue
      default:
        break
      }
      let r = unsafe kmod_module_probe_insert_module(m, 0, nil, nil, nil, nil)
      if r == 0 {
        outcome = .loaded
        continue
      }
      let e = Errno(rawValue: r < 0 ? -r : Errno.invalidArgument.rawValue)
      switch e {
      case .notPermitted, .permissionDenied: throw .moduleLoad(.notPermitted(module: name, errno: e))
      case .fileExists: continue  // raced with another loader
      default: break
      }
      // libkmod stops at the first module of its list that fails: the first one not loaded of
      // those it loads before this one (its dependencies and pre: soft dependencies).
      var order: [String] = []
      var seen: Set<String> = []
      unsafe Self.appendLoadOrder(m, &order, &seen)
      let own = unsafe Self.name(of: m)
      let before = order.prefix { $0 != own }
      if let failed = before.first(where: { dep in unsafe withModule(named: dep, { unsafe Self.state(of: $0) }) == .notLoaded }) {
        let path = unsafe withModule(named: failed) { unsafe kmod_module_get_path($0).map { unsafe String(cString: $0) } } ?? nil
        throw .moduleLoad(.dependencyFailed(module: name, dependency: failed, path: path, errno: e))
      }
      if e == .noSuchFileOrDirectory { throw .moduleLoad(.notFound(module: name, directory: directory)) }
      throw .moduleLoad(.failed(module: name, operation: "kmod_module_probe_insert_module", errno: e))
    }
    return outcome
  }

  /// Unloads `name` (not its dependencies); used to put back what a run loaded. A module that
  /// is built in or not loaded is left as it is, and says so. A module this directory does not
  /// know is looked up by its loaded name.
  @discardableResult
  public func unload(_ name: String) throws(VFIOError) -> UnloadOutcome {
    let found = unsafe try lookup(name)
    defer { unsafe Self.release(found) }
    var modules = unsafe found
    var extra: OpaquePointer?
    if unsafe modules.isEmpty {
      guard unsafe kmod_module_new_from_name(context, name, &extra) >= 0, let m = unsafe extra, unsafe Self.state(of: m) != .notLoaded else {
        throw .moduleLoad(.notFound(module: name, directory: directory))
      }
      unsafe modules = unsafe [m]
    }
    defer { if let e = unsafe extra { unsafe _ = kmod_module_unref(e) } }
    var outcome: UnloadOutcome = .notLoaded
    for unsafe m in unsafe modules {
      switch unsafe Self.state(of: m) {
      case .builtIn:
        if outcome == .notLoaded { outcome = .builtIn }
      case .live, .coming, .going:
        let r = unsafe kmod_module_remove_module(m, UInt32(KMOD_REMOVE_NOLOG.rawValue))
        if r < 0 {
          let e = Errno(rawValue: -r)
          let own = unsafe Self.name(of: m)
          if e == .resourceTemporarilyUnavailable || e == .resourceBusy {
            throw .moduleLoad(.inUse(module: own, holders: holders(own), refcount: referenceCount(own), errno: e))
          }
          throw .moduleLoad(.failed(module: own, operation: "kmod_module_remove_module", errno: e))
        }
        outcome = .unloaded
      default:
        break
      }
    }
    return outcome
  }
}
