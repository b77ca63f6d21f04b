import CKmod
import Glibc
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

  public enum LoadError: Error, Equatable, CustomStringConvertible, Sendable {
    /// Not something modprobe could take as a module name or alias.
    case invalidName(String)
    /// No module or built-in of that name (or alias) for this kernel.
    case notFound(module: String, directory: String)
    /// The kernel refused (not root, or module loading disabled).
    case notPermitted(module: String, errno: Errno)
    /// Any other failure from libkmod or init_module.
    case failed(module: String, operation: String, errno: Errno)

    public var description: String {
      switch self {
      case .invalidName(let m): "invalid module name '\(m)': expected a module name or alias (not empty, no '/', no whitespace)"
      case .notFound(let m, let dir): "module \(m): not found (no such module or built-in in \(dir))"
      case .notPermitted(let m, let e): "module \(m): not permitted (\(Errno.name(of: e)): \(e)); loading modules needs root"
      case .failed(let m, let op, let e): "module \(m): \(op) failed: \(Errno.name(of: e)) (\(e.rawValue)): \(e)"
      }
    }
  }

  private let context: OpaquePointer
  /// The modules directory libkmod reads, `/lib/modules/$(uname -r)` by default.
  public let directory: String

  /// Opens a libkmod context for `directory` (default: the running kernel's modules).
  public init(directory: String? = nil) throws(LoadError) {
    let dir = directory ?? "/lib/modules/\(Self.kernelRelease())"
    guard let ctx = unsafe kmod_new(dir, nil) else {
      throw .failed(module: "-", operation: "kmod_new(\(dir))", errno: .noMemory)
    }
    unsafe context = ctx
    self.directory = dir
  }

  deinit { unsafe _ = kmod_unref(context) }

  /// `uname -r`.
  public static func kernelRelease() -> String {
    var u = utsname()
    _ = unsafe uname(&u)
    return unsafe withUnsafeBytes(of: u.release) { unsafe String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
  }

  /// Resolves `name` (a module name or alias; `-` and `_` are equivalent) to libkmod modules.
  private func lookup(_ name: String) throws(LoadError) -> [OpaquePointer] {
    var list: OpaquePointer?
    let r = unsafe kmod_module_new_from_lookup(context, name, &list)
    guard r >= 0 else { throw .failed(module: name, operation: "kmod_module_new_from_lookup", errno: Errno(rawValue: -r)) }
    defer { if let list = unsafe list { unsafe _ = kmod_module_unref_list(list) } }
    var modules: [OpaquePointer] = unsafe []
    var it = unsafe list
    while let node = unsafe it {
      if let m = unsafe kmod_module_get_module(node) { unsafe modules.append(m) }
      unsafe it = unsafe kmod_list_next(list, node)
    }
    return unsafe modules
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
    defer { for unsafe m in unsafe modules { unsafe _ = kmod_module_unref(m) } }
    let states = unsafe modules.map(Self.state(of:))
    if states.contains(.builtIn) { return .builtIn }
    if states.contains(.live) { return .live }
    return states.first ?? .notFound
  }

  /// Whether `name` can be a module name or alias: not empty, no path separator, no whitespace
  /// or control characters (libkmod would otherwise look up something no module can be called).
  public static func validate(_ name: String) throws(LoadError) {
    guard !name.isEmpty, !name.unicodeScalars.contains(where: { $0 == "/" || $0.value <= 0x20 || $0.value == 0x7f }) else {
      throw .invalidName(name)
    }
  }

  /// Loads `name` and its dependencies (module options from modprobe.d and the kernel command
  /// line apply, as with modprobe).
  @discardableResult
  public func load(_ name: String) throws(LoadError) -> LoadOutcome {
    try Self.validate(name)
    let modules = unsafe try lookup(name)
    guard unsafe !modules.isEmpty else { throw .notFound(module: name, directory: directory) }
    defer { for unsafe m in unsafe modules { unsafe _ = kmod_module_unref(m) } }
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
      let e = Errno(rawValue: r < 0 ? -r : EINVAL)
      switch e {
      case .notPermitted, .permissionDenied: throw .notPermitted(module: name, errno: e)
      case .noSuchFileOrDirectory: throw .notFound(module: name, directory: directory)
      case .fileExists: continue  // raced with another loader
      default: throw .failed(module: name, operation: "kmod_module_probe_insert_module", errno: e)
      }
    }
    return outcome
  }

  /// Unloads `name` (not its dependencies); used to put back what a run loaded.
  public func unload(_ name: String) throws(LoadError) {
    let modules = unsafe try lookup(name)
    guard unsafe !modules.isEmpty else { throw .notFound(module: name, directory: directory) }
    defer { for unsafe m in unsafe modules { unsafe _ = kmod_module_unref(m) } }
    for unsafe m in unsafe modules where unsafe Self.state(of: m) == .live {
      let r = unsafe kmod_module_remove_module(m, 0)
      if r < 0 { throw .failed(module: name, operation: "kmod_module_remove_module", errno: Errno(rawValue: -r)) }
    }
  }
}
