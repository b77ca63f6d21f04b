// SPDX-License-Identifier: GPL-2.0-only
/// What the suites create outside a device's binding (mdev instances, modules they load), one
/// file per item under `/run/vfio-selftests/<kind>/`, written before the item is created and
/// removed after it is gone, so `vfio-selftests cleanup` can remove what a killed run left.
public struct ResourceJournal: Sendable {
  public enum Kind: String, CaseIterable, Sendable {
    /// An mdev instance (file name: its UUID; content: `parent type`).
    case mdev = "mdevs"
    /// A module a suite loaded that was not loaded before (file name: the module).
    case module = "modules"
  }

  public let root: String

  public init(root: String = "/run/vfio-selftests") { self.root = root }

  func path(_ kind: Kind, _ name: String) -> String { "\(root)/\(kind.rawValue)/\(name)" }

  /// Records `name` before it is created.
  public func record(_ kind: Kind, _ name: String, _ content: String = "") throws(VFIOError) {
    let dir = "\(root)/\(kind.rawValue)"
    try FileSystem.makeDirectories(dir).get("mkdir(\(dir))", device: name)
    try FileSystem.create(path(kind, name), content + "\n").get("write(\(path(kind, name)))", device: name)
  }

  /// Forgets `name` once it is gone.
  public func forget(_ kind: Kind, _ name: String) {
    _ = FileSystem.remove(path(kind, name))
  }

  /// Every recorded item of `kind`, sorted.
  public func entries(_ kind: Kind) -> [String] {
    guard case .success(let names) = FileSystem.list("\(root)/\(kind.rawValue)") else { return [] }
    return names.filter { !$0.hasPrefix(".") }.sorted()
  }
}
