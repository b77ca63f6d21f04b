// swift-tools-version:6.2
// SPDX-License-Identifier: GPL-2.0-only
//
// The floor of `run_one_test` (docs/benchmark.md): a Swift Testing binary holding one empty test
// and importing nothing but Testing, built as scripts/package.sh builds the project's test binary
// (`swift build -c release --build-tests`). scripts/guest/startup-profile.sh times it beside the
// project's binary when it is in bench-bin's run/ as startup-probe.xctest.
import PackageDescription

let package = Package(
  name: "startup-probe",
  targets: [.testTarget(name: "ProbeTests")]
)
