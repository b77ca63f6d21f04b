// SPDX-License-Identifier: GPL-2.0-only
// The shared state of the stress and race tests: threads hammering one device for a bounded
// time, each call's outcome counted and checked against the errnos the uAPI allows there, and a
// watchdog that names the thread and call that hang.
import Foundation
import LibVFIO
import Synchronization
import SystemPackage

/// Calls and failures per operation of the stress, shared by its threads.
final class StressState: @unchecked Sendable {
  let device: VFIOPCIDevice
  let deadline: ContinuousClock.Instant
  let seconds: Double
  let stop = Atomic<Bool>(false)
  let counts = Mutex<[String: Int]>([:])
  let failures = Mutex<[String]>([])
  /// STOP_COPY data fds handed from the state thread to the reader thread.
  final class DataFile: @unchecked Sendable {
    let file: MigrationDataFile
    init(_ file: MigrationDataFile) { self.file = file }
  }
  let dataFiles = Mutex<[DataFile]>([])
  let inFlight = Mutex<[String: String]>([:])

  init(device: VFIOPCIDevice, seconds: Double) {
    self.device = device
    self.seconds = seconds
    deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
  }

  var running: Bool { !stop.load(ordering: .relaxed) && ContinuousClock.now < deadline }

  func count(_ op: String) { counts.withLock { $0[op, default: 0] += 1 } }

  /// Records a call's outcome: success, or a failure with an errno `allowed` for that operation.
  func check<T>(_ op: String, _ result: Result<T, Errno>, allowed: Set<Errno>) {
    count(op)
    if case .failure(let e) = result {
      count("\(op) \(Errno.name(of: e))")
      if !allowed.contains(e) { failures.withLock { $0.append("\(op): \(Errno.name(of: e)) (\(e.rawValue)) is not an errno the uAPI allows here") } }
    }
  }

  func doing(_ thread: String, _ op: String) { inFlight.withLock { $0[thread] = op } }

  /// Runs each worker on its own thread until the deadline; nil when all are back by `grace`
  /// seconds past it, otherwise which thread is stuck in which call (the others are told to stop).
  func run(_ workers: [(String, @Sendable (StressState) -> Void)], threadPrefix: String, grace: Double) -> String? {
    let done = DispatchGroup()
    for (name, body) in workers {
      done.enter()
      let thread = Thread {
        body(self)
        self.doing(name, "done")
        done.leave()
      }
      thread.name = "\(threadPrefix)-\(name)"
      thread.start()
    }
    guard done.wait(timeout: .now() + seconds + grace) == .timedOut else { return nil }
    stop.store(true, ordering: .relaxed)
    let stuck = inFlight.withLock { $0.filter { $0.value != "done" } }
    _ = done.wait(timeout: .now() + 5)
    return "hang: \(grace) s past the \(seconds) s bound, still in: "
      + stuck.sorted { $0.key < $1.key }.map { "thread \($0.key) in \($0.value)" }.joined(separator: ", ")
  }
}
