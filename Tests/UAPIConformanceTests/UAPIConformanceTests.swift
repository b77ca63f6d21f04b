// SPDX-License-Identifier: GPL-2.0-only
// Compiles a probe against real Linux uAPI headers and checks that every ioctl number, flag,
// struct size and field offset this project defines (CVFIOShim structs, UAPI.swift constants)
// matches. Headers: $VFIO_SELFTESTS_UAPI_HEADERS (an include dir holding linux/vfio.h), else
// the Linux 7.3 headers in ../shared/kernel/uapi-headers.tar.xz beside the package.
import CVFIOShim
import Foundation
import LibLiveUpdate
import LibVFIO
import Testing

/// One value the project defines, and the C expression that must evaluate to it.
struct ABICheck: Sendable, CustomTestStringConvertible {
  let cExpression: String
  let swiftValue: UInt64
  var testDescription: String { cExpression }
}

func constant<T: BinaryInteger>(_ c: String, _ v: T) -> ABICheck { ABICheck(cExpression: c, swiftValue: UInt64(v)) }

/// sizeof, and offsetof for each field, of a uAPI struct mirrored in CVFIOShim.
func layout<T>(_ name: String, _ type: T.Type, _ fields: [(String, PartialKeyPath<T>)]) -> [ABICheck] {
  [ABICheck(cExpression: "sizeof(struct \(name))", swiftValue: UInt64(MemoryLayout<T>.size))]
    + fields.map { field, path in
      ABICheck(cExpression: "offsetof(struct \(name), \(field))", swiftValue: UInt64(MemoryLayout<T>.offset(of: path) ?? Int.max))
    }
}

let abiChecks: [ABICheck] = {
  var c: [ABICheck] = []
  // linux/vfio.h ioctls
  c += [
    constant("VFIO_GET_API_VERSION", VFIO.GET_API_VERSION), constant("VFIO_CHECK_EXTENSION", VFIO.CHECK_EXTENSION),
    constant("VFIO_SET_IOMMU", VFIO.SET_IOMMU), constant("VFIO_GROUP_GET_STATUS", VFIO.GROUP_GET_STATUS),
    constant("VFIO_GROUP_SET_CONTAINER", VFIO.GROUP_SET_CONTAINER), constant("VFIO_GROUP_UNSET_CONTAINER", VFIO.GROUP_UNSET_CONTAINER),
    constant("VFIO_GROUP_GET_DEVICE_FD", VFIO.GROUP_GET_DEVICE_FD), constant("VFIO_DEVICE_GET_INFO", VFIO.DEVICE_GET_INFO),
    constant("VFIO_DEVICE_GET_REGION_INFO", VFIO.DEVICE_GET_REGION_INFO), constant("VFIO_DEVICE_GET_IRQ_INFO", VFIO.DEVICE_GET_IRQ_INFO),
    constant("VFIO_DEVICE_SET_IRQS", VFIO.DEVICE_SET_IRQS), constant("VFIO_DEVICE_RESET", VFIO.DEVICE_RESET),
    constant("VFIO_DEVICE_FEATURE", VFIO.DEVICE_FEATURE), constant("VFIO_DEVICE_BIND_IOMMUFD", VFIO.DEVICE_BIND_IOMMUFD),
    constant("VFIO_DEVICE_ATTACH_IOMMUFD_PT", VFIO.DEVICE_ATTACH_IOMMUFD_PT),
    constant("VFIO_DEVICE_DETACH_IOMMUFD_PT", VFIO.DEVICE_DETACH_IOMMUFD_PT),
    constant("VFIO_MIG_GET_PRECOPY_INFO", VFIO.MIG_GET_PRECOPY_INFO), constant("VFIO_IOMMU_GET_INFO", VFIO.IOMMU_GET_INFO),
    constant("VFIO_IOMMU_MAP_DMA", VFIO.IOMMU_MAP_DMA), constant("VFIO_IOMMU_UNMAP_DMA", VFIO.IOMMU_UNMAP_DMA),
  ]
  // linux/vfio.h values and flags
  c += [
    constant("VFIO_API_VERSION", VFIO.apiVersion), constant("VFIO_TYPE1_IOMMU", VFIO.TYPE1_IOMMU),
    constant("VFIO_TYPE1v2_IOMMU", VFIO.TYPE1v2_IOMMU), constant("VFIO_NOIOMMU_IOMMU", VFIO.NOIOMMU_IOMMU),
    constant("VFIO_GROUP_FLAGS_VIABLE", VFIO.GROUP_FLAGS_VIABLE), constant("VFIO_GROUP_FLAGS_CONTAINER_SET", VFIO.GROUP_FLAGS_CONTAINER_SET),
    constant("VFIO_DEVICE_FLAGS_RESET", VFIO.DEVICE_FLAGS_RESET), constant("VFIO_DEVICE_FLAGS_PCI", VFIO.DEVICE_FLAGS_PCI),
    constant("VFIO_DEVICE_FLAGS_CAPS", VFIO.DEVICE_FLAGS_CAPS),
    constant("VFIO_REGION_INFO_FLAG_READ", VFIO.REGION_INFO_FLAG_READ), constant("VFIO_REGION_INFO_FLAG_WRITE", VFIO.REGION_INFO_FLAG_WRITE),
    constant("VFIO_REGION_INFO_FLAG_MMAP", VFIO.REGION_INFO_FLAG_MMAP), constant("VFIO_REGION_INFO_FLAG_CAPS", VFIO.REGION_INFO_FLAG_CAPS),
    constant("VFIO_IRQ_INFO_EVENTFD", VFIO.IRQ_INFO_EVENTFD), constant("VFIO_IRQ_INFO_MASKABLE", VFIO.IRQ_INFO_MASKABLE),
    constant("VFIO_IRQ_INFO_AUTOMASKED", VFIO.IRQ_INFO_AUTOMASKED), constant("VFIO_IRQ_INFO_NORESIZE", VFIO.IRQ_INFO_NORESIZE),
    constant("VFIO_IRQ_SET_DATA_NONE", VFIO.IRQ_SET_DATA_NONE), constant("VFIO_IRQ_SET_DATA_BOOL", VFIO.IRQ_SET_DATA_BOOL),
    constant("VFIO_IRQ_SET_DATA_EVENTFD", VFIO.IRQ_SET_DATA_EVENTFD), constant("VFIO_IRQ_SET_ACTION_MASK", VFIO.IRQ_SET_ACTION_MASK),
    constant("VFIO_IRQ_SET_ACTION_UNMASK", VFIO.IRQ_SET_ACTION_UNMASK), constant("VFIO_IRQ_SET_ACTION_TRIGGER", VFIO.IRQ_SET_ACTION_TRIGGER),
    constant("VFIO_PCI_BAR0_REGION_INDEX", VFIO.PCI_BAR0_REGION_INDEX), constant("VFIO_PCI_ROM_REGION_INDEX", VFIO.PCI_ROM_REGION_INDEX),
    constant("VFIO_PCI_CONFIG_REGION_INDEX", VFIO.PCI_CONFIG_REGION_INDEX), constant("VFIO_PCI_INTX_IRQ_INDEX", VFIO.PCI_INTX_IRQ_INDEX),
    constant("VFIO_PCI_MSI_IRQ_INDEX", VFIO.PCI_MSI_IRQ_INDEX), constant("VFIO_PCI_MSIX_IRQ_INDEX", VFIO.PCI_MSIX_IRQ_INDEX),
    constant("VFIO_DEVICE_FEATURE_MASK", VFIO.DEVICE_FEATURE_MASK), constant("VFIO_DEVICE_FEATURE_GET", VFIO.DEVICE_FEATURE_GET),
    constant("VFIO_DEVICE_FEATURE_SET", VFIO.DEVICE_FEATURE_SET), constant("VFIO_DEVICE_FEATURE_PROBE", VFIO.DEVICE_FEATURE_PROBE),
    constant("VFIO_DEVICE_FEATURE_PCI_VF_TOKEN", VFIO.DEVICE_FEATURE_PCI_VF_TOKEN),
    constant("VFIO_DEVICE_FEATURE_MIGRATION", VFIO.DEVICE_FEATURE_MIGRATION),
    constant("VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE", VFIO.DEVICE_FEATURE_MIG_DEVICE_STATE),
    constant("VFIO_DEVICE_FEATURE_MIG_DATA_SIZE", VFIO.DEVICE_FEATURE_MIG_DATA_SIZE),
    constant("VFIO_DEVICE_BIND_FLAG_TOKEN", VFIO.DEVICE_BIND_FLAG_TOKEN),
    constant("VFIO_MIGRATION_STOP_COPY", VFIO.MIGRATION_STOP_COPY), constant("VFIO_MIGRATION_P2P", VFIO.MIGRATION_P2P),
    constant("VFIO_MIGRATION_PRE_COPY", VFIO.MIGRATION_PRE_COPY), constant("VFIO_PRECOPY_INFO_REINIT", VFIO.PRECOPY_INFO_REINIT),
    constant("VFIO_DEVICE_STATE_ERROR", VFIO.DEVICE_STATE_ERROR), constant("VFIO_DEVICE_STATE_STOP", VFIO.DEVICE_STATE_STOP),
    constant("VFIO_DEVICE_STATE_RUNNING", VFIO.DEVICE_STATE_RUNNING), constant("VFIO_DEVICE_STATE_STOP_COPY", VFIO.DEVICE_STATE_STOP_COPY),
    constant("VFIO_DEVICE_STATE_RESUMING", VFIO.DEVICE_STATE_RESUMING), constant("VFIO_DEVICE_STATE_RUNNING_P2P", VFIO.DEVICE_STATE_RUNNING_P2P),
    constant("VFIO_DEVICE_STATE_PRE_COPY", VFIO.DEVICE_STATE_PRE_COPY), constant("VFIO_DEVICE_STATE_PRE_COPY_P2P", VFIO.DEVICE_STATE_PRE_COPY_P2P),
    constant("VFIO_DEVICE_STATE_NR", VFIO.DEVICE_STATE_NR),
    // LibVFIO.MigrationState mirrors enum vfio_device_mig_state
    constant("VFIO_DEVICE_STATE_ERROR", MigrationState.error.rawValue), constant("VFIO_DEVICE_STATE_STOP", MigrationState.stop.rawValue),
    constant("VFIO_DEVICE_STATE_RUNNING", MigrationState.running.rawValue), constant("VFIO_DEVICE_STATE_STOP_COPY", MigrationState.stopCopy.rawValue),
    constant("VFIO_DEVICE_STATE_RESUMING", MigrationState.resuming.rawValue), constant("VFIO_DEVICE_STATE_RUNNING_P2P", MigrationState.runningP2P.rawValue),
    constant("VFIO_DEVICE_STATE_PRE_COPY", MigrationState.preCopy.rawValue), constant("VFIO_DEVICE_STATE_PRE_COPY_P2P", MigrationState.preCopyP2P.rawValue),
    constant("VFIO_IOMMU_INFO_PGSIZES", VFIO.IOMMU_INFO_PGSIZES), constant("VFIO_IOMMU_INFO_CAPS", VFIO.IOMMU_INFO_CAPS),
    constant("VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE", VFIO.IOMMU_TYPE1_INFO_CAP_IOVA_RANGE),
    constant("VFIO_DMA_MAP_FLAG_READ", VFIO.DMA_MAP_FLAG_READ), constant("VFIO_DMA_MAP_FLAG_WRITE", VFIO.DMA_MAP_FLAG_WRITE),
    constant("VFIO_DMA_UNMAP_FLAG_ALL", VFIO.DMA_UNMAP_FLAG_ALL),
  ]
  // linux/iommufd.h
  c += [
    constant("IOMMU_DESTROY", IOMMUFD.DESTROY), constant("IOMMU_IOAS_ALLOC", IOMMUFD.IOAS_ALLOC),
    constant("IOMMU_IOAS_IOVA_RANGES", IOMMUFD.IOAS_IOVA_RANGES), constant("IOMMU_IOAS_MAP", IOMMUFD.IOAS_MAP),
    constant("IOMMU_IOAS_UNMAP", IOMMUFD.IOAS_UNMAP), constant("IOMMU_IOAS_MAP_FIXED_IOVA", IOMMUFD.IOAS_MAP_FIXED_IOVA),
    constant("IOMMU_IOAS_MAP_WRITEABLE", IOMMUFD.IOAS_MAP_WRITEABLE), constant("IOMMU_IOAS_MAP_READABLE", IOMMUFD.IOAS_MAP_READABLE),
  ]
  // linux/liveupdate.h
  c += [
    constant("LIVEUPDATE_IOCTL_CREATE_SESSION", LiveUpdateUAPI.CREATE_SESSION),
    constant("LIVEUPDATE_IOCTL_RETRIEVE_SESSION", LiveUpdateUAPI.RETRIEVE_SESSION),
    constant("LIVEUPDATE_SESSION_PRESERVE_FD", LiveUpdateUAPI.SESSION_PRESERVE_FD),
    constant("LIVEUPDATE_SESSION_RETRIEVE_FD", LiveUpdateUAPI.SESSION_RETRIEVE_FD),
    constant("LIVEUPDATE_SESSION_FINISH", LiveUpdateUAPI.SESSION_FINISH),
    constant("LIVEUPDATE_SESSION_GET_NAME", LiveUpdateUAPI.SESSION_GET_NAME),
    constant("LIVEUPDATE_SESSION_NAME_LENGTH", LiveUpdateUAPI.sessionNameLength),
    constant("LIVEUPDATE_SESSION_NAME_LENGTH", VST_LIVEUPDATE_SESSION_NAME_LENGTH),
  ]
  // struct layouts
  c += layout("vfio_info_cap_header", vfio_info_cap_header.self, [("id", \.id), ("version", \.version), ("next", \.next)])
  c += layout("vfio_group_status", vfio_group_status.self, [("argsz", \.argsz), ("flags", \.flags)])
  c += layout("vfio_device_info", vfio_device_info.self, [
    ("argsz", \.argsz), ("flags", \.flags), ("num_regions", \.num_regions), ("num_irqs", \.num_irqs),
    ("cap_offset", \.cap_offset), ("pad", \.pad),
  ])
  c += layout("vfio_region_info", vfio_region_info.self, [
    ("argsz", \.argsz), ("flags", \.flags), ("index", \.index), ("cap_offset", \.cap_offset), ("size", \.size), ("offset", \.offset),
  ])
  c += layout("vfio_irq_info", vfio_irq_info.self, [("argsz", \.argsz), ("flags", \.flags), ("index", \.index), ("count", \.count)])
  c += layout("vfio_irq_set", vfio_irq_set.self, [
    ("argsz", \.argsz), ("flags", \.flags), ("index", \.index), ("start", \.start), ("count", \.count),
  ])
  c += [ABICheck(cExpression: "offsetof(struct vfio_irq_set, data)", swiftValue: UInt64(MemoryLayout<vfio_irq_set>.size))]
  c += layout("vfio_device_feature", vfio_device_feature.self, [("argsz", \.argsz), ("flags", \.flags)])
  c += [ABICheck(cExpression: "offsetof(struct vfio_device_feature, data)", swiftValue: UInt64(MemoryLayout<vfio_device_feature>.size))]
  c += layout("vfio_device_bind_iommufd", vfio_device_bind_iommufd.self, [
    ("argsz", \.argsz), ("flags", \.flags), ("iommufd", \.iommufd), ("out_devid", \.out_devid), ("token_uuid_ptr", \.token_uuid_ptr),
  ])
  c += layout("vfio_device_attach_iommufd_pt", vfio_device_attach_iommufd_pt.self, [
    ("argsz", \.argsz), ("flags", \.flags), ("pt_id", \.pt_id), ("pasid", \.pasid),
  ])
  c += layout("vfio_device_detach_iommufd_pt", vfio_device_detach_iommufd_pt.self, [("argsz", \.argsz), ("flags", \.flags), ("pasid", \.pasid)])
  c += layout("vfio_iommu_type1_info", vfio_iommu_type1_info.self, [
    ("argsz", \.argsz), ("flags", \.flags), ("iova_pgsizes", \.iova_pgsizes), ("cap_offset", \.cap_offset), ("pad", \.pad),
  ])
  c += layout("vfio_iova_range", vfio_iova_range.self, [("start", \.start), ("end", \.end)])
  c += layout("vfio_iommu_type1_info_cap_iova_range", vfio_iommu_type1_info_cap_iova_range.self, [
    ("header", \.header), ("nr_iovas", \.nr_iovas), ("reserved", \.reserved),
  ])
  c += [ABICheck(cExpression: "offsetof(struct vfio_iommu_type1_info_cap_iova_range, iova_ranges)",
                 swiftValue: UInt64(MemoryLayout<vfio_iommu_type1_info_cap_iova_range>.size))]
  c += layout("vfio_iommu_type1_dma_map", vfio_iommu_type1_dma_map.self, [
    ("argsz", \.argsz), ("flags", \.flags), ("vaddr", \.vaddr), ("iova", \.iova), ("size", \.size),
  ])
  c += layout("vfio_iommu_type1_dma_unmap", vfio_iommu_type1_dma_unmap.self, [("argsz", \.argsz), ("flags", \.flags), ("iova", \.iova), ("size", \.size)])
  c += [ABICheck(cExpression: "offsetof(struct vfio_iommu_type1_dma_unmap, data)", swiftValue: UInt64(MemoryLayout<vfio_iommu_type1_dma_unmap>.size))]
  c += layout("vfio_device_feature_migration", vfio_device_feature_migration.self, [("flags", \.flags)])
  c += layout("vfio_device_feature_mig_state", vfio_device_feature_mig_state.self, [("device_state", \.device_state), ("data_fd", \.data_fd)])
  c += layout("vfio_device_feature_mig_data_size", vfio_device_feature_mig_data_size.self, [("stop_copy_length", \.stop_copy_length)])
  c += layout("vfio_precopy_info", vfio_precopy_info.self, [
    ("argsz", \.argsz), ("flags", \.flags), ("initial_bytes", \.initial_bytes), ("dirty_bytes", \.dirty_bytes),
  ])
  c += layout("iommu_destroy", iommu_destroy.self, [("size", \.size), ("id", \.id)])
  c += layout("iommu_ioas_alloc", iommu_ioas_alloc.self, [("size", \.size), ("flags", \.flags), ("out_ioas_id", \.out_ioas_id)])
  c += layout("iommu_iova_range", iommu_iova_range.self, [("start", \.start), ("last", \.last)])
  c += layout("iommu_ioas_iova_ranges", iommu_ioas_iova_ranges.self, [
    ("size", \.size), ("ioas_id", \.ioas_id), ("num_iovas", \.num_iovas), ("__reserved", \.__reserved),
    ("allowed_iovas", \.allowed_iovas), ("out_iova_alignment", \.out_iova_alignment),
  ])
  c += layout("iommu_ioas_map", iommu_ioas_map.self, [
    ("size", \.size), ("flags", \.flags), ("ioas_id", \.ioas_id), ("__reserved", \.__reserved),
    ("user_va", \.user_va), ("length", \.length), ("iova", \.iova),
  ])
  c += layout("iommu_ioas_unmap", iommu_ioas_unmap.self, [("size", \.size), ("ioas_id", \.ioas_id), ("iova", \.iova), ("length", \.length)])
  c += layout("liveupdate_ioctl_create_session", liveupdate_ioctl_create_session.self, [("size", \.size), ("fd", \.fd), ("name", \.name)])
  c += layout("liveupdate_ioctl_retrieve_session", liveupdate_ioctl_retrieve_session.self, [("size", \.size), ("fd", \.fd), ("name", \.name)])
  c += layout("liveupdate_session_preserve_fd", liveupdate_session_preserve_fd.self, [("size", \.size), ("fd", \.fd), ("token", \.token)])
  c += layout("liveupdate_session_retrieve_fd", liveupdate_session_retrieve_fd.self, [("size", \.size), ("fd", \.fd), ("token", \.token)])
  c += layout("liveupdate_session_finish", liveupdate_session_finish.self, [("size", \.size), ("reserved", \.reserved)])
  c += layout("liveupdate_session_get_name", liveupdate_session_get_name.self, [("size", \.size), ("reserved", \.reserved), ("name", \.name)])
  return c
}()

/// Where the real uAPI headers are, or why there are none.
enum UAPIHeaders {
  static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

  enum Location: Sendable {
    case found(URL)
    case missing(String)
  }

  /// Located once per test run (the tarball is unpacked at most once).
  static let location: Location = {
    do { return try locate() } catch { return .missing("cannot unpack uAPI headers: \(error)") }
  }()

  static func locate() throws -> Location {
    if let dir = try SelftestsEnvironment.current.path(.uapiHeaders) {
      let url = URL(fileURLWithPath: dir)
      guard FileManager.default.fileExists(atPath: url.appendingPathComponent("linux/vfio.h").path) else {
        return .missing("VFIO_SELFTESTS_UAPI_HEADERS=\(dir) has no linux/vfio.h")
      }
      return .found(url)
    }
    let tarball = packageRoot.deletingLastPathComponent().appendingPathComponent("shared/kernel/uapi-headers.tar.xz")
    guard FileManager.default.fileExists(atPath: tarball.path) else {
      return .missing("no uAPI headers: set VFIO_SELFTESTS_UAPI_HEADERS to an include dir, or provide \(tarball.path)")
    }
    let out = FileManager.default.temporaryDirectory.appendingPathComponent("vfio-selftests-uapi-\(getpid())")
    try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
    try run("/usr/bin/env", ["tar", "-xJf", tarball.path, "-C", out.path])
    return .found(out.appendingPathComponent("include"))
  }

  @discardableResult
  static func run(_ tool: String, _ args: [String]) throws -> String {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: tool)
    p.arguments = args
    let pipe = Pipe()
    p.standardOutput = pipe
    p.standardError = pipe
    try p.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    let text = String(decoding: data, as: UTF8.self)
    guard p.terminationStatus == 0 else {
      throw ProbeError(command: ([tool] + args).joined(separator: " "), output: text)
    }
    return text
  }

  struct ProbeError: Error, CustomStringConvertible {
    let command: String
    let output: String
    var description: String { "\(command) failed:\n\(output)" }
  }
}

struct RequiresUAPIHeaders: TestTrait {
  func prepare(for test: Test) async throws {
    if case .missing(let reason) = UAPIHeaders.location { try Test.cancel(Comment(rawValue: reason)) }
  }
}

@Suite("uAPI conformance")
struct UAPIConformanceTests {
  @Test("every ioctl number, flag, struct size and field offset matches the real headers", RequiresUAPIHeaders())
  func matchesRealHeaders() throws {
    guard case .found(let include) = UAPIHeaders.location else { return }
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vfio-selftests-abi-\(getpid())")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }

    var source = "#include <stdio.h>\n#include <stddef.h>\n#include <linux/vfio.h>\n#include <linux/iommufd.h>\n#include <linux/liveupdate.h>\nint main(void) {\n"
    for check in abiChecks {
      source += "  printf(\"%llu\\n\", (unsigned long long)(\(check.cExpression)));\n"
    }
    source += "  return 0;\n}\n"
    let probe = dir.appendingPathComponent("probe.c")
    try source.write(to: probe, atomically: true, encoding: .utf8)
    // -I puts the given headers ahead of the host's (older) /usr/include/linux.
    let binary = dir.appendingPathComponent("probe")
    try UAPIHeaders.run("/usr/bin/env", ["cc", "-std=gnu11", "-Wall", "-Werror",
                                         "-I", include.path, "-o", binary.path, probe.path])
    let values = try UAPIHeaders.run(binary.path, []).split(separator: "\n").map { UInt64($0) }
    try #require(values.count == abiChecks.count)
    var mismatches = 0
    for (check, real) in zip(abiChecks, values) where check.swiftValue != real {
      mismatches += 1
      Issue.record("\(check.cExpression): project has \(check.swiftValue) (0x\(String(check.swiftValue, radix: 16))), headers say \(real.map { "\($0) (0x\(String($0, radix: 16)))" } ?? "?")")
    }
    print("uAPI conformance: \(abiChecks.count) values checked against \(include.path), \(mismatches) mismatches")
    #expect(abiChecks.count > 150)
  }
}
