/**
 * Field shapes: the per-field character limits the JSON writer applies by property name, built on
 * null-prototype objects so no property name can reach `Object.prototype`.
 *
 * @packageDocumentation
 */

/**
 * Per-field character limits by property name: a number limits the string value of that property
 * (and, for an array value, its string items and the `text` of its object items); a nested shape
 * applies to an object value, or to each object item of an array value.
 */
export interface FieldShape {
  readonly [key: string]: number | FieldShape;
}

/** The limit in force for one value: a character count, a shape for an object, or none. */
export type Rule = number | FieldShape | undefined;

/** Builds a null-prototype shape, so no property name can reach `Object.prototype`. */
export function fieldShape(fields: Record<string, number | FieldShape>): FieldShape {
  return Object.assign(Object.create(null) as Record<string, number | FieldShape>, fields);
}

const textShapes = new Map<number, FieldShape>();
/** The shape `{ text: limit }` (for the object items of a limited array), cached per limit. */
export function textShape(limit: number): FieldShape {
  let shape = textShapes.get(limit);
  if (shape === undefined) {
    shape = fieldShape({ text: limit });
    if (textShapes.size < 64) textShapes.set(limit, shape);
  }
  return shape;
}
