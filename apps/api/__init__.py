def component_names(api_class):
    """Give an API class's nested Input/Output serializers unique names, so the OpenAPI components of
    different operations do not collide (drf-spectacular names a component after its class)."""
    base = api_class.__name__.removesuffix("Api")
    for attr in ("InputSerializer", "OutputSerializer"):
        nested = api_class.__dict__.get(attr)
        if nested is not None:
            nested.__name__ = nested.__qualname__ = f"{base}{attr.removesuffix('Serializer')}Serializer"
    return api_class
