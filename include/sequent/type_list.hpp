// The few type-list tools sequent needs, on top of Boost.Hana.
#pragma once

#include <boost/hana/at.hpp>
#include <boost/hana/integral_constant.hpp>
#include <boost/hana/tuple.hpp>
#include <boost/hana/type.hpp>
#include <cstddef>

namespace sequent {

namespace hana = boost::hana;

// A flat list of types; hana_tuple gives Hana's view of it for algorithms.
template <class... Ts>
struct TypeList {
  static constexpr std::size_t size = sizeof...(Ts);
  static constexpr auto hana_tuple = hana::tuple_t<Ts...>;
};

template <class List, class T>
struct append;
template <class... Ts, class T>
struct append<TypeList<Ts...>, T> {
  using type = TypeList<Ts..., T>;
};
template <class List, class T>
using append_t = typename append<List, T>::type;

// The I-th type of a list; Hana indexes packs without recursion.
template <std::size_t I, class List>
struct at;
template <std::size_t I, class... Ts>
struct at<I, TypeList<Ts...>> {
  using type = typename decltype(+hana::at_c<I>(hana::tuple_t<Ts...>))::type;
};
template <std::size_t I, class List>
using at_t = typename at<I, List>::type;

}  // namespace sequent
