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
    // Every header below holds one of these words; an ordinary message (nearly all of them) is
    // turned away by this one pass, not by the twenty checks (about 36 µs a message in the debug
    // build the suites run as, on the host; each hardware test reads every message logged while
    // it ran).
    guard Syscalls.containsAny(line, markers) else { return nil }
    let l = line.drop { $0 == " " }
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

  /// A word every header of `kind(of:)` contains.
  private static let markers = ["BUG", "WARNING", "INFO", "Oops", "general protection fault", "Kernel panic", "UBSAN",
                                "corruption", "stall"]
  private static let lockdepHeaders = ["possible circular locking dependency", "possible recursive locking", "inconsistent lock state",
                                       "possible irq lock inversion", "suspicious RCU usage", "lock held when returning to user space",
                                       "bad unlock balance", "held lock freed", "possible deadlock", "Nested lock was not taken"]

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

  /// Reads every detector now, /proc/kallsyms included (see `current(proc:cache:)`).
  public init(proc: String = "/proc") {
    self.init(proc: proc, symbols: Self.scanKallsyms(proc: proc))
  }

  /// The detectors, with the two facts only /proc/kallsyms tells (sleeping-in-atomic: the
  /// `__might_resched` symbol; list-debug: `__list_add_valid_or_report`) read once per boot and
  /// kept in `cache`/kallsyms.<boot id> (tmpfs: gone with the boot). Reading /proc/kallsyms makes
  /// the kernel format every symbol (0.4-0.6 s under TCG, a quarter of a Live Update test
  /// process's time), and the symbols cannot change before the next boot. The other detectors
  /// (lockdep's debug_locks, the hung-task timeout, the soft-lockup switch) are read fresh.
  /// Without a boot id or a writable cache this is `init(proc:)`.
  public static func current(proc: String = "/proc", cache: String = "/run/vfio-selftests") -> KernelDetectors {
    guard case .success(let id) = FileSystem.read("\(proc)/sys/kernel/random/boot_id"),
          case let bootID = id.trimmingWhitespace(), !bootID.isEmpty, !bootID.contains("/") else {
      return KernelDetectors(proc: proc)
    }
    let path = "\(cache)/kallsyms.\(bootID)"
    if case .success(let text) = FileSystem.read(path), let symbols = SymbolFacts(text) {
      return KernelDetectors(proc: proc, symbols: symbols)
    }
    let symbols = scanKallsyms(proc: proc)
    // Written whole under a private name, then renamed: a reader sees all of it or nothing.
    _ = FileSystem.makeDirectories(cache).flatMap { FileSystem.replace(path, with: symbols.text) }
    return KernelDetectors(proc: proc, symbols: symbols)
  }

  /// What /proc/kallsyms says, and its one-line cache form.
  struct SymbolFacts: Equatable {
    var mightResched: Bool
    var listAddValidOrReport: Bool
    var text: String { "__might_resched=\(mightResched ? 1 : 0) __list_add_valid_or_report=\(listAddValidOrReport ? 1 : 0)\n" }
    init(mightResched: Bool, listAddValidOrReport: Bool) {
      self.mightResched = mightResched
      self.listAddValidOrReport = listAddValidOrReport
    }
    /// Parses `text`'s form exactly; nil for anything else (a torn or foreign file: scan again).
    init?(_ line: String) {
      for a in [false, true] {
        for b in [false, true] where SymbolFacts(mightResched: a, listAddValidOrReport: b).text == line {
          self.init(mightResched: a, listAddValidOrReport: b)
          return
        }
      }
      return nil
    }
  }

  static func scanKallsyms(proc: String) -> SymbolFacts {
    let found = (try? FileSystem.contains("\(proc)/kallsyms", [" __might_resched\n", " __list_add_valid_or_report\n"]).get()) ?? [false, false]
    return SymbolFacts(mightResched: found[0], listAddValidOrReport: found[1])
  }

  init(proc: String, symbols: SymbolFacts) {
    lockdep = FileSystem.exists("\(proc)/lockdep")
    debugLocks = nil
    if case .success(let stats) = FileSystem.read("\(proc)/lockdep_stats") {
      for line in stats.split(separator: "\n") where line.contains("debug_locks:") {
        debugLocks = line.split(separator: ":").last.flatMap { Int(String($0).trimmingWhitespace()) }
      }
    }
    sleepingInAtomic = symbols.mightResched
    listDebug = symbols.listAddValidOrReport
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
