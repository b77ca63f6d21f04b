// SPDX-License-Identifier: GPL-2.0-only
import Glibc

/// `pthread_barrier_t` as vfio_pci_device_init_perf_test.c uses it: the first `count - 1`
/// callers of a round wait until the last arrives. Rounds are told apart by a generation number:
/// with one wake-up for every round, a thread released early could take the next round's
/// wake-up meant for a slower one, leaving that one waiting forever (seen with three devices).
/// The mutex and condition variable live in memory of their own (pthread objects must not move).
@safe public final class ThreadBarrier: @unchecked Sendable {
  public let count: Int
  private let mutex: UnsafeMutablePointer<pthread_mutex_t>
  private let condition: UnsafeMutablePointer<pthread_cond_t>
  private var arrived = 0
  private var generation = 0

  public init(count: Int) {
    self.count = count
    unsafe mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    unsafe condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    unsafe pthread_mutex_init(mutex, nil)
    unsafe pthread_cond_init(condition, nil)
  }

  deinit {
    unsafe pthread_cond_destroy(condition)
    unsafe pthread_mutex_destroy(mutex)
    unsafe condition.deallocate()
    unsafe mutex.deallocate()
  }

  /// Waits until `count` threads have called it in this round.
  public func wait() {
    unsafe pthread_mutex_lock(mutex)
    defer { unsafe pthread_mutex_unlock(mutex) }
    let round = generation
    arrived += 1
    if arrived >= count {
      arrived = 0
      generation += 1
      unsafe pthread_cond_broadcast(condition)
      return
    }
    while round == generation { unsafe pthread_cond_wait(condition, mutex) }
  }
}
