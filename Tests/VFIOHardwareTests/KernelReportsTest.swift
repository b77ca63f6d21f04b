// SPDX-License-Identifier: GPL-2.0-only
// The kernel-report check (`.checksKernelLog`, Support/KernelReportsTrait.swift) tested end to end.
// (Named to sort where KernelReportsTrait.swift did: Swift Testing runs a suite's children in
// source order, file by file, and the KTAP keeps that order.)
import LibVFIO
import Testing

extension Hardware {
  /// The check itself, end to end: a WARNING-shaped record written to /dev/kmsg while a test
  /// body runs under the trait must fail that body with the record quoted.
  @Suite("kernel_log", .hangGuard)
  struct KernelLogCheck {
    @Test func catches_a_report() async throws {
      guard HostCapabilities().isRoot else { try Test.cancel("not root") }
      if let reason = KernelLogWatch().unavailability { try Test.cancel(Comment(rawValue: reason)) }
      let line = "WARNING: CPU: 0 PID: 1 at \(KernelReport.selfTestMarker) the harness's own check\n"
      let error = await #expect(throws: KernelReportsLogged.self) {
        try await ChecksKernelLog(includingSelfTest: true).provideScope(for: Test.current!, testCase: nil) {
          try FileSystem.write("/dev/kmsg", "<4>" + line).get("write(/dev/kmsg)", device: "-")
        }
      }
      #expect(error?.reports.first?.kind == .warning)
      #expect(error?.description.contains(KernelReport.selfTestMarker) == true)
    }
  }
}
