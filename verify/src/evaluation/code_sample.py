"""A small warehouse inventory with a restocking queue and a route planner.

This module is ordinary Python written for Granary's decoder evaluation: the verifier
measures how well a language model predicts it. It is deliberately plain, the kind
of code a model sees a great deal of: classes, docstrings, comments, loops and a
little arithmetic.

Copyright the Granary authors. Licensed under the Apache License, Version 2.0.
"""

from __future__ import annotations

import heapq
from collections import defaultdict, deque
from dataclasses import dataclass, field


class InventoryError(Exception):
    """Raised when an operation would leave the inventory in an invalid state."""


@dataclass(order=True)
class Item:
    """One kind of item kept in the warehouse.

    Items sort by their stock keeping unit (SKU), so a list of them prints in a
    stable order.
    """

    sku: str
    name: str = field(compare=False)
    unit_price: float = field(compare=False, default=0.0)
    quantity: int = field(compare=False, default=0)
    reorder_level: int = field(compare=False, default=10)

    def value(self) -> float:
        """The total value of the units on hand."""
        return self.unit_price * self.quantity

    def needs_restock(self) -> bool:
        """True when the quantity has fallen to the reorder level or below."""
        return self.quantity <= self.reorder_level


class Inventory:
    """A collection of items, indexed by SKU."""

    def __init__(self) -> None:
        self._items: dict[str, Item] = {}
        self._history: list[tuple[str, str, int]] = []

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, sku: str) -> bool:
        return sku in self._items

    def add(self, item: Item) -> None:
        """Adds a new kind of item. Adding a SKU twice is an error."""
        if item.sku in self._items:
            raise InventoryError(f"duplicate SKU: {item.sku}")
        if item.quantity < 0:
            raise InventoryError("quantity cannot be negative")
        self._items[item.sku] = item
        self._history.append(("add", item.sku, item.quantity))

    def get(self, sku: str) -> Item:
        """Returns the item with this SKU, or raises KeyError."""
        return self._items[sku]

    def receive(self, sku: str, count: int) -> int:
        """Records a delivery of `count` units and returns the new quantity."""
        if count <= 0:
            raise InventoryError("a delivery must contain at least one unit")
        item = self._items[sku]
        item.quantity += count
        self._history.append(("receive", sku, count))
        return item.quantity

    def ship(self, sku: str, count: int) -> int:
        """Removes `count` units for an order and returns what is left.

        Shipping more than is on hand raises InventoryError and changes nothing.
        """
        item = self._items[sku]
        if count > item.quantity:
            raise InventoryError(f"only {item.quantity} of {sku} on hand, {count} ordered")
        item.quantity -= count
        self._history.append(("ship", sku, count))
        return item.quantity

    def total_value(self) -> float:
        """The value of everything in the warehouse."""
        return sum(item.value() for item in self._items.values())

    def low_stock(self) -> list[Item]:
        """Items at or below their reorder level, lowest quantity first."""
        low = [item for item in self._items.values() if item.needs_restock()]
        return sorted(low, key=lambda item: (item.quantity, item.sku))

    def history(self, sku: str | None = None) -> list[tuple[str, str, int]]:
        """Every change so far, optionally only those for one SKU."""
        if sku is None:
            return list(self._history)
        return [entry for entry in self._history if entry[1] == sku]


class RestockQueue:
    """A priority queue of restocking requests.

    Urgent requests (a lower priority number) come out first; requests of equal
    priority come out in the order they were made.
    """

    def __init__(self) -> None:
        self._heap: list[tuple[int, int, str, int]] = []
        self._counter = 0

    def __len__(self) -> int:
        return len(self._heap)

    def push(self, sku: str, count: int, priority: int = 5) -> None:
        """Queues a request for `count` units of `sku`."""
        heapq.heappush(self._heap, (priority, self._counter, sku, count))
        self._counter += 1

    def pop(self) -> tuple[str, int]:
        """Removes and returns the most urgent request as (sku, count)."""
        if not self._heap:
            raise IndexError("pop from an empty restock queue")
        _, _, sku, count = heapq.heappop(self._heap)
        return sku, count

    @classmethod
    def from_inventory(cls, inventory: Inventory, target: int = 50) -> "RestockQueue":
        """Builds a queue that brings every low item back up to `target` units.

        Items that are sold out are the most urgent.
        """
        queue = cls()
        for item in inventory.low_stock():
            priority = 0 if item.quantity == 0 else 5
            queue.push(item.sku, max(target - item.quantity, 0), priority)
        return queue


class RoutePlanner:
    """Shortest routes between the aisles of the warehouse.

    The floor plan is an undirected graph: aisles are nodes and each corridor
    between two aisles has a length in metres.
    """

    def __init__(self) -> None:
        self._edges: dict[str, list[tuple[str, float]]] = defaultdict(list)

    def connect(self, a: str, b: str, metres: float) -> None:
        """Adds a corridor between aisles `a` and `b`."""
        if metres <= 0:
            raise ValueError("a corridor must have a positive length")
        self._edges[a].append((b, metres))
        self._edges[b].append((a, metres))

    def reachable(self, start: str) -> set[str]:
        """Every aisle that can be reached from `start`, by breadth-first search."""
        seen = {start}
        todo = deque([start])
        while todo:
            here = todo.popleft()
            for there, _ in self._edges[here]:
                if there not in seen:
                    seen.add(there)
                    todo.append(there)
        return seen

    def shortest_path(self, start: str, goal: str) -> tuple[float, list[str]]:
        """The length and the aisles of a shortest route, by Dijkstra's algorithm.

        Returns (inf, []) when the goal cannot be reached.
        """
        best = {start: 0.0}
        previous: dict[str, str] = {}
        frontier = [(0.0, start)]
        while frontier:
            distance, here = heapq.heappop(frontier)
            if here == goal:
                break
            if distance > best.get(here, float("inf")):
                continue  # a stale entry: a shorter route was found already
            for there, metres in self._edges[here]:
                candidate = distance + metres
                if candidate < best.get(there, float("inf")):
                    best[there] = candidate
                    previous[there] = here
                    heapq.heappush(frontier, (candidate, there))
        if goal not in best:
            return float("inf"), []
        path = [goal]
        while path[-1] != start:
            path.append(previous[path[-1]])
        path.reverse()
        return best[goal], path


def demo() -> None:
    """Runs a short example and prints what happens."""
    inventory = Inventory()
    inventory.add(Item("A-100", "bolts", unit_price=0.25, quantity=400, reorder_level=100))
    inventory.add(Item("A-200", "nuts", unit_price=0.10, quantity=80, reorder_level=100))
    inventory.add(Item("B-300", "hinges", unit_price=3.50, quantity=0, reorder_level=5))
    inventory.ship("A-100", 320)
    print(f"{len(inventory)} items worth {inventory.total_value():.2f}")

    queue = RestockQueue.from_inventory(inventory, target=150)
    while queue:
        sku, count = queue.pop()
        print(f"restock {sku}: {count} units")
        inventory.receive(sku, count)

    planner = RoutePlanner()
    planner.connect("dock", "A", 12.0)
    planner.connect("A", "B", 8.5)
    planner.connect("dock", "B", 25.0)
    metres, route = planner.shortest_path("dock", "B")
    print(f"dock to B: {metres} m via {' -> '.join(route)}")


if __name__ == "__main__":
    demo()
