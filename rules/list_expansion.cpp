// SPDX-License-Identifier: Apache-2.0
#include "rules/list_expansion.h"

namespace bulkhead::rules {

void resolve_list_items(std::vector<ListDef>& lists) {
    ListTable earlier;
    for (auto& list : lists) {
        std::vector<std::string> items;
        for (auto& item : list.items) {
            auto it = earlier.find(item);
            if (it != earlier.end() && it->second != &list) {
                items.insert(items.end(), it->second->items.begin(), it->second->items.end());
            } else {
                items.push_back(std::move(item));
            }
        }
        list.items = std::move(items);
        earlier[list.name] = &list;
    }
}

ListTable make_list_table(const std::vector<ListDef>& lists) {
    ListTable table;
    for (const auto& list : lists) table[list.name] = &list;
    return table;
}

Result<void> expand_lists(Expr& expr, const ListTable& lists) {
    std::vector<Expr*> stack{&expr};
    while (!stack.empty()) {
        Expr* node = stack.back();
        stack.pop_back();
        for (auto& child : node->children) stack.push_back(child.get());
        if (node->kind != ExprKind::kCheck) continue;
        Value& value = node->value;
        if (value.kind == Value::Kind::kListRef) {
            auto it = lists.find(value.text);
            if (it == lists.end()) {
                return Error{{}, "undefined list '" + value.text + "' in '" + to_condition(*node) + "'"};
            }
            value.kind = Value::Kind::kList;
            value.items.clear();
            for (const auto& item : it->second->items) value.items.push_back({item, false});
            value.text.clear();
            continue;
        }
        if (value.kind != Value::Kind::kList) continue;
        std::vector<ListItem> items;
        for (auto& item : value.items) {
            auto it = item.quoted ? lists.end() : lists.find(item.text);
            if (it == lists.end()) {
                items.push_back(std::move(item));
                continue;
            }
            for (const auto& sub : it->second->items) items.push_back({sub, false});
        }
        value.items = std::move(items);
    }
    return {};
}

}  // namespace bulkhead::rules
