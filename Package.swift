// swift-tools-version:6.2
// SPDX-License-Identifier: GPL-2.0-only
//
// vfio-selftests: a Swift port of the Linux kernel's VFIO and Live Update selftests
// (tools/testing/selftests/{vfio,liveupdate}).
import PackageDescription

let strict: [SwiftSetting] = [.strictMemorySafety()]

let package = Package(
  name: "vfio-selftests",
  products: [
    .library(name: "LibVFIO", targets: ["LibVFIO"]),
    .library(name: "LibLiveUpdate", targets: ["LibLiveUpdate"]),
    .executable(name: "vfio-selftests", targets: ["vfio-selftests"]),
    .executable(name: "vfio-bench", targets: ["vfio-bench"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
  ],
  targets: [
    // libkmod, for loading vfio-pci, vfio_iommu_type1, iommufd, xe-vfio-pci, mtty.
    .systemLibrary(
      name: "CKmod",
      pkgConfig: "libkmod",
      providers: [.apt(["libkmod-dev"])]
    ),
    // The one C shim: the kernel uAPI structs (vfio, iommufd, liveupdate) defined by this
    // project, and the GNU-only calls Swift cannot reach through Glibc.
    .target(name: "CVFIOShim"),
    .target(
      name: "LibVFIO",
      dependencies: [
        "CVFIOShim", "CKmod",
        .product(name: "SystemPackage", package: "swift-system"),
      ],
      swiftSettings: strict
    ),
    .target(
      name: "LibLiveUpdate",
      dependencies: [
        "CVFIOShim", "LibVFIO",
        .product(name: "SystemPackage", package: "swift-system"),
      ],
      swiftSettings: strict
    ),
    // The CLI's testable logic: event stream parsing, KTAP, run requests, doctor.
    .target(
      name: "VFIOSelftestsCLI",
      dependencies: ["LibVFIO", "LibLiveUpdate", .product(name: "SystemPackage", package: "swift-system")]
    ),
    .executableTarget(
      name: "vfio-selftests",
      dependencies: [
        "LibVFIO", "LibLiveUpdate", "VFIOSelftestsCLI",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
        .product(name: "SystemPackage", package: "swift-system"),
      ]
    ),
    // The Swift side of the C-vs-Swift benchmark (scripts/bench.sh; its C twin is scripts/bench/bench.c).
    .executableTarget(
      name: "vfio-bench",
      dependencies: ["LibVFIO", "LibLiveUpdate", "CVFIOShim", .product(name: "SystemPackage", package: "swift-system")]
    ),
    .testTarget(
      name: "LibVFIOTests",
      dependencies: ["LibVFIO", .product(name: "SystemPackage", package: "swift-system")]
    ),
    .testTarget(
      name: "UAPIConformanceTests",
      dependencies: ["LibVFIO", "LibLiveUpdate", "CVFIOShim"]
    ),
    .testTarget(
      name: "LibLiveUpdateTests",
      dependencies: ["LibLiveUpdate", "LibVFIO", .product(name: "SystemPackage", package: "swift-system")]
    ),
    .testTarget(
      name: "CLITests",
      dependencies: ["VFIOSelftestsCLI", "LibVFIO"],
      // Event streams recorded from real runs (EventStreamCaseTests reads them by path).
      exclude: ["Fixtures"]
    ),
    .testTarget(
      name: "VFIOHardwareTests",
      dependencies: ["LibVFIO", "LibLiveUpdate", "CVFIOShim", .product(name: "SystemPackage", package: "swift-system")]
    ),
  ]
)
