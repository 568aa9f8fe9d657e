// SPDX-License-Identifier: MIT
// The test runner: main() comes from CAF's unit test framework. Exactly one
// translation unit of the binary includes unit_test_impl.hpp.
#include <caf/test/unit_test_impl.hpp>
