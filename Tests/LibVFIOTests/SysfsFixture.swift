// SPDX-License-Identifier: GPL-2.0-only
import Foundation
import LibVFIO

/// A throwaway tree that mimics `/sys/bus/pci` and `/dev`, removed when the fixture goes away.
///
///     <root>/bus/pci/devices/0000:00:03.0/   virtio device, driver -> ../../drivers/virtio-pci,
///                                            iommu_group -> <root>/kernel/iommu_groups/7, vfio-dev/vfio3/
///     <root>/bus/pci/devices/0000:01:00.0/   SR-IOV PF (totalvfs 2, numvfs 1, virtfn0), no driver
///     <root>/bus/pci/devices/0000:01:00.1/   its VF, no driver, no class, no iommu_group
///     <root>/bus/pci/drivers/{virtio-pci,vfio-pci}/{bind,unbind}, <root>/bus/pci/drivers_probe
///     <root>/dev/                            empty
///     <root>/journal/                        not created
final class SysfsFixture {
  let root: String
  let pciBus: String
  let dev: String
  let journal: String

  static let virtio = PCIAddress(domain: 0, bus: 0, device: 3, function: 0)
  static let pf = PCIAddress(domain: 0, bus: 1, device: 0, function: 0)
  static let vf = PCIAddress(domain: 0, bus: 1, device: 0, function: 1)
  static let missing = PCIAddress(domain: 0, bus: 0, device: 9, function: 0)

  var paths: SystemPaths { SystemPaths(pciBus: pciBus, dev: dev) }
  var sysfs: PCISysfs { PCISysfs(paths: paths) }

  init() throws {
    let base = FileManager.default.temporaryDirectory.path
    root = "\(base)/libvfio-tests-\(UUID().uuidString)"
    pciBus = "\(root)/bus/pci"
    dev = "\(root)/dev"
    journal = "\(root)/journal"
    try mkdir(dev)
    try mkdir("\(root)/kernel/iommu_groups/7")
    try mkdir("\(root)/kernel/iommu_groups/8")
    for d in ["virtio-pci", "vfio-pci"] {
      try mkdir("\(pciBus)/drivers/\(d)")
      try write("\(pciBus)/drivers/\(d)/bind", "")
      try write("\(pciBus)/drivers/\(d)/unbind", "")
    }
    try write("\(pciBus)/drivers_probe", "")

    let v = devicePath(Self.virtio)
    try mkdir(v)
    try write("\(v)/vendor", "0x1af4\n")
    try write("\(v)/device", "0x1000\n")
    try write("\(v)/class", "0x020000\n")
    try write("\(v)/numa_node", "-1\n")
    try write("\(v)/driver_override", "(null)\n")
    try symlink("\(v)/iommu_group", to: "../../../../kernel/iommu_groups/7")
    try symlink("\(v)/driver", to: "../../drivers/virtio-pci")
    try mkdir("\(v)/vfio-dev/vfio3")

    let p = devicePath(Self.pf)
    try mkdir(p)
    try write("\(p)/vendor", "0x8086\n")
    try write("\(p)/device", "0x1572\n")
    try write("\(p)/class", "0x020000\n")
    try write("\(p)/numa_node", "0\n")
    try write("\(p)/driver_override", "(null)\n")
    try write("\(p)/sriov_totalvfs", "2\n")
    try write("\(p)/sriov_numvfs", "1\n")
    try symlink("\(p)/virtfn0", to: "../0000:01:00.1")
    try symlink("\(p)/iommu_group", to: "../../../../kernel/iommu_groups/8")

    let f = devicePath(Self.vf)
    try mkdir(f)
    try write("\(f)/vendor", "0x8086\n")
    try write("\(f)/device", "0x154c\n")
    try write("\(f)/driver_override", "\n")
  }

  deinit { try? FileManager.default.removeItem(atPath: root) }

  func devicePath(_ a: PCIAddress) -> String { "\(pciBus)/devices/\(a)" }
  func attributePath(_ a: PCIAddress, _ name: String) -> String { "\(devicePath(a))/\(name)" }

  func mkdir(_ path: String) throws {
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
  }

  func write(_ path: String, _ text: String) throws {
    try Data(text.utf8).write(to: URL(fileURLWithPath: path))
  }

  func read(_ path: String) throws -> String {
    try String(decoding: Data(contentsOf: URL(fileURLWithPath: path)), as: UTF8.self)
  }

  func symlink(_ path: String, to destination: String) throws {
    try FileManager.default.createSymbolicLink(atPath: path, withDestinationPath: destination)
  }

  func remove(_ path: String) throws {
    try FileManager.default.removeItem(atPath: path)
  }

  func exists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }

  /// Points the device's `driver` link at `driver` (nil removes it).
  func setDriverLink(_ a: PCIAddress, _ driver: String?) throws {
    let link = attributePath(a, "driver")
    if (try? FileManager.default.destinationOfSymbolicLink(atPath: link)) != nil { try remove(link) }
    if let driver { try symlink(link, to: "../../drivers/\(driver)") }
  }

  /// Every regular file under the tree with its contents, to prove that nothing was touched.
  func snapshot() throws -> [String: String] {
    var out: [String: String] = [:]
    guard let e = FileManager.default.enumerator(atPath: root) else { return out }
    while let rel = e.nextObject() as? String {
      let path = "\(root)/\(rel)"
      let attrs = try FileManager.default.attributesOfItem(atPath: path)
      switch attrs[.type] as? FileAttributeType {
      case .typeRegular?: out[rel] = try read(path)
      case .typeSymbolicLink?: out[rel] = "-> " + (try FileManager.default.destinationOfSymbolicLink(atPath: path))
      default: out[rel] = "<dir>"
      }
    }
    return out
  }
}
