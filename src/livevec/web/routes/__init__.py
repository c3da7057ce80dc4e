"""The API's routes, one module per resource: products, search, shoppers, events, and the service."""
