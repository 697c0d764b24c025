"""The learned promise in use: rebuild and store a shop's model, and pick the settings a promise is computed with.

Learning happens here, in a job or a command, never per storefront request: the stored model is a small table of
ranges per route that :func:`promise_settings_for` reads from what the snapshot holds.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from cxplugin.extensions import db
from cxplugin.models import PromiseModel, Shop
from cxplugin.promise import backtest, history
from cxplugin.promise.calculator import Destination, PromiseSettings
from cxplugin.promise.model import ANY, DEFAULT_TARGET, Model, RoutePromise
from cxplugin.shops import settings as shop_settings

MODES = ("fixed", "learned", "suggest")


@dataclass(frozen=True)
class LearnedRoutes:
    """A stored model as the hot paths read it."""

    version: int
    built_at: datetime
    deliveries: int
    routes: Mapping[str, RoutePromise]
    evaluation: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def find(self, destination: Destination, carrier: str | None = None) -> RoutePromise | None:
        """The narrowest stored route for the destination: region and carrier, region, country and carrier, country."""
        country = destination.country.strip().upper()
        region = (destination.region or "").strip().upper().removeprefix(country + "-")
        wanted = (carrier or ANY).strip().lower() or ANY
        for key in (f"{country}|{region}|{wanted}", f"{country}|{region}|{ANY}", f"{country}||{wanted}",
                    f"{country}||{ANY}"):
            route = self.routes.get(key)
            if route is not None:
                return route
        return None


def _route_json(route: RoutePromise) -> dict[str, Any]:
    return {"processing": list(route.processing), "transit": list(route.transit), "deliveries": route.deliveries,
            "route": route.route, "explanation": route.explanation,
            "transit_distribution": [list(pair) for pair in route.transit_distribution],
            "delivery_hours": list(route.delivery_hours)}


def _route_from_json(data: dict[str, Any]) -> RoutePromise:
    return RoutePromise((data["processing"][0], data["processing"][1]), (data["transit"][0], data["transit"][1]),
                        data["deliveries"], data["route"], data["explanation"],
                        tuple((int(day), float(p)) for day, p in data.get("transit_distribution", [])),
                        tuple(float(share) for share in data.get("delivery_hours", [])))


def to_routes(row: PromiseModel) -> LearnedRoutes:
    return LearnedRoutes(row.version, row.built_at, row.deliveries,
                         {key: _route_from_json(value) for key, value in row.routes.items()}, row.evaluation or {})


def rebuild(shop: Shop, now: datetime) -> PromiseModel:
    """Learn from every delivery the shop has and store the result as the next version."""
    data = shop_settings.current(shop)
    settings = shop_settings.promise_settings(data, shop.timezone, shop.country_code)
    target = float(data["promise"].get("target_on_time", DEFAULT_TARGET))
    model = Model(settings)
    for delivery in history.shop_deliveries(shop):
        model.add(delivery)
    routes: dict[str, Any] = {}
    for country, region, carrier in set(model.routes()):
        route = model.route(now, Destination(country, region or None), carrier=None if carrier == ANY else carrier,
                            target=target)
        if route is not None:
            routes[f"{country}|{region}|{carrier or ANY}"] = _route_json(route)
    latest = db.session.scalar(sa.select(sa.func.max(PromiseModel.version)).where(PromiseModel.shop_id == shop.id))
    comparison = compare_recent(shop, now)
    evaluation = {"since": comparison.since, "learned": summary_json(comparison.learned),
                  "fixed": summary_json(comparison.fixed)}
    row = PromiseModel(shop_id=shop.id, version=(latest or 0) + 1, built_at=now, target=target,
                       deliveries=model.learned, routes=routes, dropped=model.dropped, evaluation=evaluation)
    db.session.add(row)
    # Keep a few versions: orders name the version their promise came from.
    old = sa.select(PromiseModel.id).where(PromiseModel.shop_id == shop.id,
                                           PromiseModel.version <= row.version - 5)
    db.session.execute(sa.delete(PromiseModel).where(PromiseModel.id.in_(old)))
    db.session.commit()
    return row


def shops_to_rebuild() -> list[int]:
    """Installed shops whose promise mode is learned or suggest (the mode lives in the versioned settings)."""
    shops = db.session.scalars(sa.select(Shop).where(Shop.installed_at.is_not(None), Shop.uninstalled_at.is_(None)))
    return [shop.id for shop in shops if shop_settings.current(shop)["promise"]["mode"] in ("learned", "suggest")]


def rebuild_shop(shop_id: int, now: datetime) -> PromiseModel | None:
    shop = db.session.get(Shop, shop_id)
    if shop is None or not shop.is_installed:
        return None
    return rebuild(shop, now)


def latest(shop_id: int, at: datetime | None = None) -> LearnedRoutes | None:
    """The newest stored model (built at or before ``at``, when given: the one in force when an order was placed)."""
    query = sa.select(PromiseModel).where(PromiseModel.shop_id == shop_id)
    if at is not None:
        query = query.where(PromiseModel.built_at <= at)
    row = db.session.scalars(query.order_by(PromiseModel.version.desc()).limit(1)).first()
    return to_routes(row) if row is not None else None


@dataclass(frozen=True)
class Choice:
    """The settings a promise is computed with, and how they were chosen (recorded on the order)."""

    settings: PromiseSettings
    mode: str
    model_version: int | None
    explanation: str | None = None


def promise_settings_for(fixed: PromiseSettings, mode: str, learned: LearnedRoutes | None,
                         destination: Destination, carrier: str | None = None) -> Choice:
    """In ``learned`` mode the route's learned ranges replace the fixed ones (same calendars, cutoff and tag rules);
    anywhere the model knows nothing, and in ``fixed`` and ``suggest`` modes, the fixed settings."""
    if mode != "learned" or learned is None:
        return Choice(fixed, "fixed", None)
    zone, _ = fixed.zone_for(destination)
    route = learned.find(destination, carrier) if zone is not None else None
    if route is None:
        return Choice(fixed, "fixed", None)
    return Choice(backtest.learned_settings(fixed, route, Destination(destination.country, destination.region)),
                  "learned", learned.version, route.explanation)


@dataclass(frozen=True)
class Comparison:
    """How the learned promise would have done beside the fixed one over recent orders (for the settings page)."""

    since: str
    learned: backtest.Summary
    fixed: backtest.Summary
    target: float


def compare_recent(shop: Shop, now: datetime, days: int = 90) -> Comparison:
    data = shop_settings.current(shop)
    settings = shop_settings.promise_settings(data, shop.timezone, shop.country_code)
    target = float(data["promise"].get("target_on_time", DEFAULT_TARGET))
    since = (now - timedelta(days=days)).astimezone(settings._tz).date()
    result = backtest.walk_forward(settings, history.shop_deliveries(shop), target=target, judge_from=since)
    return Comparison(since.isoformat(), backtest.summarise(result.learned), backtest.summarise(result.fixed), target)


def summary_json(summary: backtest.Summary) -> dict[str, Any]:
    return dataclasses.asdict(summary)
