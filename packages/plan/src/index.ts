// @jetbridge/plan: Build plans and task configs: types, validation, public plans.
export {};
