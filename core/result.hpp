// SPDX-License-Identifier: MIT
#pragma once

#include <type_traits>
#include <utility>
#include <variant>

#include "core/errc.hpp"

namespace regcore::core {

/// A value or an error (C++17 stand-in for std::expected). Errors are values
/// on every data path of core/: no exceptions for bad input.
template <class T>
class [[nodiscard]] result {
public:
  using value_type = T;

  result(T x) : data_(std::in_place_index<0>, std::move(x)) {}
  result(error e) : data_(std::in_place_index<1>, std::move(e)) {}
  result(errc code) : data_(std::in_place_index<1>, error{code, {}, 0}) {}

  bool has_value() const noexcept { return data_.index() == 0; }
  explicit operator bool() const noexcept { return has_value(); }

  T& value() & { return std::get<0>(data_); }
  const T& value() const& { return std::get<0>(data_); }
  T&& value() && { return std::get<0>(std::move(data_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const error& err() const& { return std::get<1>(data_); }
  error&& err() && { return std::get<1>(std::move(data_)); }

private:
  std::variant<T, error> data_;
};

/// Result of an operation that yields nothing but may fail.
template <>
class [[nodiscard]] result<void> {
public:
  using value_type = void;
  result() = default;
  result(error e) : err_(std::move(e)) {}
  result(errc code) : err_{code, {}, 0} {}
  bool has_value() const noexcept { return err_.code == errc::none; }
  explicit operator bool() const noexcept { return has_value(); }
  const error& err() const& { return err_; }

private:
  error err_;
};

} // namespace regcore::core
