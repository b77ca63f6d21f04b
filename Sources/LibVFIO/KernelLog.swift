// SPDX-License-Identifier: GPL-2.0-only
// The kernel's own bug reports as test results: /dev/kmsg read from a point on, the report
// headers of the kernel's detectors (lockdep, WARNING, BUG, sleeping in atomic context, hung
// tasks, soft lockups, RCU stalls, oopses), and which of those detectors this kernel has on.
import CVFIOShim
import SystemPackage

/// The kernel log from a point on: `/dev/kmsg`, non-blocking, positioned at its end when opened
/// (or at its start with `fromBoot`).
public final class KernelLogWatch: @unchecked Sendable {
  /// nil when /dev/kmsg cannot be opened (not root, no such device): then nothing is checked,
  /// and `unavailability` says why.
  public let fd: FileDescriptor?
  public let unavailability: String?

  public init(path: String = "/dev/kmsg", fromBoot: Bool = false) {
    switch openFile(path, .readOnly, options: [.nonBlocking, .closeOnExec]) {
    case .success(let fd):
      if !fromBoot { _ = try? fd.seek(offset: 0, from: .end) }
      self.fd = fd
      unavailability = nil
    case .failure(let e):
      fd = nil
      unavailability = "cannot open \(path): \(Errno.name(of: e)): the kernel log is not checked"
    }
  }

  deinit { try? fd?.close() }

  /// The messages logged since the last call (or since `init`), one per record; a record's
  /// continuation lines (" KEY=value" dictionary lines) are dropped.
  public func newMessages() -> [String] {
    guard let fd else { return [] }
    var out: [String] = []
    while true {
      switch fd.readBytes(maxCount: 8192) {
      case .success(let record) where record.isEmpty: return out
      case .success(let record):
        if let m = Self.message(ofRecord: String(decoding: record, as: UTF8.self)) { out.append(m) }
      case .failure(.brokenPipe): continue  // records overwritten before we read them: go on
      case .failure: return out  // EAGAIN: nothing more
      }
    }
  }

  /// `prio,seq,ts,flags;message\n KEY=value...` -> `message`.
  package static func message(ofRecord record: String) -> String? {
    guard let semi = record.firstIndex(of: ";") else { return nil }
    let rest = record[record.index(after: semi)...]
    return String(rest.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
  }
}

/// One report of a kernel detector: its kind, the header line and the lines after it.
public struct KernelReport: Equatable, Sendable, CustomStringConvertible {
  public enum Kind: String, Sendable, CaseIterable {
    case lockdep = "lockdep report"
    case sleepingInAtomic = "sleeping in atomic context"
    case hungTask = "hung task"
    case softLockup = "soft lockup"
    case rcuStall = "RCU stall"
    case oops = "oops"
    case bug = "BUG"
    case warning = "WARNING"
  }

  public var kind: Kind
  /// The header and up to `contextLines` lines after it, as logged.
  public var lines: [String]

  public var description: String { "\(kind.rawValue): " + lines.joined(separator: " | ") }

  /// How many lines after a header a report quotes.
  public static let contextLines = 7

  /// The kind of report `line` opens, or nil for an ordinary message. The headers are the ones
  /// kernel/locking/lockdep.c, kernel/sched/core.c (__might_resched), kernel/hung_task.c,
  /// kernel/watchdog.c, kernel/rcu/tree_stall.h, kernel/panic.c (__warn) and the oops and BUG
  /// paths print.
  public static func kind(of line: String) -> Kind? {
    let l = line.drop { $0 == " " }
    let lockdepHeaders = ["possible circular locking dependency", "possible recursive locking", "inconsistent lock state",
                          "possible irq lock inversion", "suspicious RCU usage", "lock held when returning to user space",
                          "bad unlock balance", "held lock freed", "possible deadlock", "Nested lock was not taken"]
    if l.hasPrefix("WARNING:") || l.hasPrefix("BUG:") || l.hasPrefix("INFO:") {
      if lockdepHeaders.contains(where: { l.contains($0) }) { return .lockdep }
    }
    if l.hasPrefix("BUG: sleeping function called from invalid context") || l.hasPrefix("BUG: scheduling while atomic") { return .sleepingInAtomic }
    if l.hasPrefix("INFO: task ") && l.contains("blocked for more than") { return .hungTask }
    if l.contains("BUG: soft lockup") || l.contains("BUG: workqueue lockup") { return .softLockup }
    if l.contains("rcu: INFO:") || l.hasPrefix("INFO: rcu") || l.contains("self-detected stall on CPU") { return .rcuStall }
    if l.hasPrefix("Oops:") || l.hasPrefix("general protection fault") || l.hasPrefix("kernel BUG at") || l.hasPrefix("Kernel panic") { return .oops }
    if l.hasPrefix("BUG:") || l.hasPrefix("UBSAN:") || l.contains("list_add corruption") || l.contains("list_del corruption") { return .bug }
    if l.hasPrefix("WARNING:") { return .warning }
    return nil
  }

  /// Marks the report that the project's own check of this mechanism writes to /dev/kmsg; it
  /// counts only where asked for (`includingSelfTest`), so it never fails a real run.
  public static let selfTestMarker = "[vfio-selftests kernel log self-test]"

  /// The reports among `messages`, each with the lines that follow its header.
  public static func reports(in messages: [String], includingSelfTest: Bool = false) -> [KernelReport] {
    var out: [KernelReport] = []
    for (i, m) in messages.enumerated() {
      guard let kind = kind(of: m), includingSelfTest || !m.contains(selfTestMarker) else { continue }
      // A lockdep report opens with "WARNING: possible ..." and goes on with lines that are not
      // headers; a header inside the previous report's quoted lines still starts a new one.
      let tail = messages[(i + 1)...].prefix(contextLines).prefix { Self.kind(of: $0) == nil }
      out.append(KernelReport(kind: kind, lines: [m] + tail))
    }
    return out
  }
}

/// Which of the kernel's bug detectors this kernel has on, from what it exposes at run time
/// (no /proc/config.gz needed): /proc/lockdep and /proc/lockdep_stats (lockdep, and whether it
/// has turned itself off after a report), kernel.hung_task_timeout_secs, kernel.soft_watchdog,
/// and symbols that exist only with CONFIG_DEBUG_ATOMIC_SLEEP and CONFIG_DEBUG_LIST.
public struct KernelDetectors: Equatable, Sendable, CustomStringConvertible {
  public var lockdep: Bool
  /// lockdep's `debug_locks`: 0 once it has reported something and turned itself off.
  public var debugLocks: Int?
  public var sleepingInAtomic: Bool
  public var listDebug: Bool
  /// The hung-task timeout in seconds (0 = detector off), nil without CONFIG_DETECT_HUNG_TASK.
  public var hungTaskTimeout: Int?
  public var softLockup: Bool

  public init(proc: String = "/proc") {
    lockdep = FileSystem.exists("\(proc)/lockdep")
    debugLocks = nil
    if case .success(let stats) = FileSystem.read("\(proc)/lockdep_stats") {
      for line in stats.split(separator: "\n") where line.contains("debug_locks:") {
        debugLocks = line.split(separator: ":").last.flatMap { Int(String($0).trimmingWhitespace()) }
      }
    }
    let symbols = (try? FileSystem.contains("\(proc)/kallsyms", [" __might_resched\n", " __list_add_valid_or_report\n"]).get()) ?? [false, false]
    sleepingInAtomic = symbols[0]
    listDebug = symbols[1]
    hungTaskTimeout = (try? FileSystem.read("\(proc)/sys/kernel/hung_task_timeout_secs").get()).flatMap { Int($0.trimmingWhitespace()) }
    softLockup = (try? FileSystem.read("\(proc)/sys/kernel/soft_watchdog").get()).map { $0.hasPrefix("1") } ?? false
  }

  public var description: String {
    func on(_ b: Bool) -> String { b ? "on" : "off" }
    var parts = ["lockdep \(on(lockdep))" + (lockdep ? " (debug_locks \(debugLocks.map(String.init) ?? "?"))" : "")]
    parts.append("sleeping-in-atomic \(on(sleepingInAtomic))")
    parts.append("hung-task " + (hungTaskTimeout.map { $0 > 0 ? "on (\($0) s)" : "off (timeout 0)" } ?? "off"))
    parts.append("soft-lockup \(on(softLockup))")
    parts.append("list-debug \(on(listDebug))")
    return "kernel detectors: " + parts.joined(separator: ", ") + "; WARNING, BUG and oops reports are always checked"
  }
}
