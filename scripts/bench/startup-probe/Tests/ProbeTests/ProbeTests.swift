// SPDX-License-Identifier: GPL-2.0-only
// One test that does nothing: what a Swift Testing binary costs before any test's own work.
import Testing

@Suite struct ProbeSuite {
  @Test func empty() {}
}
