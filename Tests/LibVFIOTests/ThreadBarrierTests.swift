// SPDX-License-Identifier: GPL-2.0-only
// The init-perf test's barrier (LibVFIO.ThreadBarrier), no device needed.
import Dispatch
import Foundation
import LibVFIO
import Synchronization
import Testing

/// The barrier itself (no device needed): five threads through 200 rounds, every round complete
/// before any thread starts the next.
@Suite("init_perf barrier", .timeLimit(.minutes(1)))
struct InitPerfBarrierTests {
  @Test func everyThreadPassesEveryRound() {
    let threads = 5, rounds = 200
    let barrier = ThreadBarrier(count: threads)
    let passed = Mutex([Int](repeating: 0, count: rounds))
    let done = DispatchGroup()
    for _ in 0..<threads {
      done.enter()
      Thread {
        defer { done.leave() }
        for r in 0..<rounds {
          barrier.wait()
          passed.withLock { $0[r] += 1 }
        }
      }.start()
    }
    #expect(done.wait(timeout: .now() + 30) == .success, "a thread was left waiting at the barrier")
    #expect(passed.withLock { $0 }.allSatisfy { $0 == threads })
  }
}
