// SPDX-License-Identifier: GPL-2.0-only
import SystemPackage

/// Mediated devices (mdev) through sysfs: a parent (`/sys/class/mdev_bus/<parent>`, such as the
/// `mtty` sample's) offers types (`mdev_supported_types/<type>`, such as `mtty-2`); writing a
/// UUID to a type's `create` makes an instance at `/sys/bus/mdev/devices/<uuid>`, whose
/// `remove` destroys it. An instance is a VFIO device named by its UUID (`VFIODeviceID.mdev`).
public struct MdevSysfs: Sendable {
  public let paths: SystemPaths

  public init(paths: SystemPaths = .system) { self.paths = paths }

  public func typePath(parent: String, type: String) -> String {
    "\(paths.mdevParents)/\(parent)/mdev_supported_types/\(type)"
  }

  /// Whether `parent` offers `type`.
  public func hasType(parent: String, type: String) -> Bool { FileSystem.isDirectory(typePath(parent: parent, type: type)) }

  /// The type's `available_instances`.
  public func availableInstances(parent: String, type: String) throws(VFIOError) -> Int {
    let path = "\(typePath(parent: parent, type: type))/available_instances"
    let text = try FileSystem.read(path).get("read(\(path))", device: "\(parent)/\(type)").trimmingWhitespace()
    guard let n = Int(text) else {
      throw .unexpected(operation: "read(\(path))", device: "\(parent)/\(type)", detail: "not an integer: '\(text)'")
    }
    return n
  }

  /// A new random UUID (the kernel's `/proc/sys/kernel/random/uuid`).
  public static func newUUID() throws(VFIOError) -> String {
    try FileSystem.read("/proc/sys/kernel/random/uuid").get("read(/proc/sys/kernel/random/uuid)", device: "-").trimmingWhitespace()
  }

  /// Creates an instance of `type` under `parent` named `uuid`.
  public func create(parent: String, type: String, uuid: String) throws(VFIOError) {
    let path = "\(typePath(parent: parent, type: type))/create"
    try FileSystem.write(path, uuid).get("write(\(path))", device: uuid)
  }

  /// Whether the instance exists.
  public func exists(uuid: String) -> Bool { FileSystem.isDirectory("\(paths.mdevBus)/devices/\(uuid)") }

  /// Removes the instance (`/sys/bus/mdev/devices/<uuid>/remove`); a no-op when it is gone.
  public func remove(uuid: String) throws(VFIOError) {
    guard exists(uuid: uuid) else { return }
    let path = "\(paths.mdevBus)/devices/\(uuid)/remove"
    try FileSystem.write(path, "1").get("write(\(path))", device: uuid)
  }
}
